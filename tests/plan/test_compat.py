"""Compatibility learned from run reports: which pairs are learned, the table's file, `factory learn`."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from factory.cli import main
from factory.errors import ConfigError
from factory.plan.compat import learn, load_compat, outcomes_from_report, parse_compat, render_compat

ROOT = Path(__file__).resolve().parents[2]


def entry(
    version: str, python: str, outcome: str, stage: str | None = None, cause: str | None = None
) -> dict[str, Any]:
    spec = {"package": "mamba-ssm", "version": version, "torch": "2.14", "cuda_major": 13, "python": python}
    tuple_id = f"mamba-ssm-{version}-cu13.0-torch2.14-cp{python.replace('.', '')}-abi1"
    message = f"{cause} in {tuple_id}" if cause else None
    return {"id": tuple_id, "spec": spec, "outcome": outcome, "stage": stage, "cause": cause, "message": message}


REPORT = {
    "run_id": "20261130T010000Z",
    "tuples": [
        entry("2.3.2.post1", "3.11", "published"),
        entry("2.3.2.post1", "3.12", "unchanged"),
        entry("2.2.5", "3.11", "failed", "build", "build-failed"),
        entry("2.2.5", "3.12", "published"),
        entry("2.3.1", "3.11", "failed", "provision", "env-failed"),  # says nothing about the pair
        entry("2.3.0", "3.11", "failed", "verify", "import-failed"),
    ],
}


def test_outcomes_per_pair() -> None:
    got = {str(o.version): o for o in outcomes_from_report(REPORT)}
    assert set(got) == {"2.3.2.post1", "2.2.5", "2.3.0"}  # 2.3.1: an environment failure is not learned
    assert got["2.3.2.post1"].builds and got["2.3.2.post1"].report == "20261130T010000Z"
    failed = got["2.2.5"]
    assert not failed.builds and failed.cause == "build/build-failed"  # one failing Python marks the pair
    assert failed.tuple_id == "mamba-ssm-2.2.5-cu13.0-torch2.14-cp311-abi1" and "build-failed in" in str(failed.message)
    assert got["2.3.0"].cause == "verify/import-failed"


def test_table_round_trips_and_newer_outcomes_win() -> None:
    table = learn({}, outcomes_from_report(REPORT))
    text = render_compat(table)
    assert parse_compat(tomllib.loads(text)) == table
    fixed = {"run_id": "later", "tuples": [entry("2.2.5", "3.11", "published")]}
    again = learn(table, outcomes_from_report(fixed))
    row = next(o for o in again.values() if str(o.version) == "2.2.5")
    assert row.builds and row.report == "later" and len(again) == len(table)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ConfigError, match="not a `factory run` report"):
        outcomes_from_report({"tuples": []})
    with pytest.raises(ConfigError, match="needs its cause"):
        parse_compat(
            tomllib.loads(
                '[[outcome]]\npackage="x"\nversion="1"\ntorch="2.14"\ncuda=13\nbuilds=false\nreport="r"\ntuple="t"\n'
            )
        )


def test_packaged_table_holds_only_observed_rows() -> None:
    # rows come from real runs only (`factory learn`); each names the report that found it
    for outcome in load_compat().values():
        assert outcome.report and outcome.tuple_id.startswith(f"{outcome.package}-{outcome.version}-")


def test_learn_command_writes_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report, table = tmp_path / "report.json", tmp_path / "compat.toml"
    report.write_text(json.dumps(REPORT))
    assert main(["learn", "--report", str(report), "--compat", str(table)]) == 0
    assert "learned 3 pairs from run 20261130T010000Z (1 built, 2 did not)" in capsys.readouterr().out
    assert len(load_compat(table)) == 3
    # the plan drops the pairs that did not build, with the learned reason
    assert (
        main(["plan", "--matrix", str(ROOT / "matrix.toml"), "--profile", "releases", "--compat", str(table), "--json"])
        == 0
    )
    plan = json.loads(capsys.readouterr().out)
    ids = {e["id"] for e in plan["include"]}
    assert "mamba-ssm-2.2.5-cu13.0-torch2.14-cp311-abi1" not in ids
    assert "mamba-ssm-2.3.1-cu13.0-torch2.14-cp311-abi1" in ids  # not learned: still planned
    reasons = [d["reason"] for d in plan["dropped"] if d["version"] == "2.2.5"]
    assert reasons and "build/build-failed" in reasons[0] and "20261130T010000Z" in reasons[0]
    assert main(["learn", "--report", str(tmp_path / "none.json"), "--compat", str(table)]) == 2
    assert "no such report" in capsys.readouterr().err
