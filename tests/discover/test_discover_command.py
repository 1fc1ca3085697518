"""`factory discover` end to end over the recorded PyPI (MockTransport), and once over the real PyPI."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_pypi import BASE, FakePyPI
from packaging.version import Version

from factory.cli import build_parser
from factory.commands import discover as command
from factory.discover import NEW_SDISTS, TABLE_OUT_OF_DATE, UP_TO_DATE, updated_knowledge
from factory.knowledge import load_knowledge
from factory.matrix import load_matrix
from factory.pypi import PyPI
from factory.recipes import load_recipes

ROOT = Path(__file__).parents[2]


def run(fake: FakePyPI, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    args = build_parser().parse_args(["discover", "--matrix", str(ROOT / "matrix.toml"), "--pypi-url", BASE, *extra])
    code = command.run(args, http=fake.client())
    return code, capsys.readouterr().out


def test_json_report_matches_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakePyPI()
    code, out = run(fake, capsys, "--json")
    report = json.loads(out)
    assert code == report["exit_code"] and code in (UP_TO_DATE, TABLE_OUT_OF_DATE, NEW_SDISTS)
    assert (code == TABLE_OUT_OF_DATE) == bool(report["differences"])
    assert report["torch"]["2.14"]["pypi_cuda"] == "13.0"
    assert report["torch"]["2.14"]["metadata_via"] == "range"  # the recorded mirror had no .metadata for it
    assert report["torch"]["2.9"]["metadata_via"] == "pep658"
    assert {s["package"] for s in report["sdists"]} == {"causal-conv1d", "mamba-ssm"}
    # range reads never asked for a whole wheel
    assert all(r.headers.get("range", "bytes=-").startswith("bytes=") for r in fake.seen if r.url.path.endswith(".whl"))


def test_table_with_pypi_facts_applied_is_up_to_date() -> None:
    fake = FakePyPI()
    pypi = PyPI(fake.client(), BASE)
    matrix, recipes = load_matrix(ROOT / "matrix.toml"), load_recipes()
    first = command.discover(pypi, matrix, load_knowledge(), recipes)
    fixed = updated_knowledge(load_knowledge(), first.facts)
    again = command.discover(pypi, matrix, fixed, recipes)
    assert again.differences == [] and again.exit_code == UP_TO_DATE
    assert again.changes.added == again.changes.removed == again.changes.rebuilt == []


def add_release(project: str, version: str, files: list[dict[str, Any]]) -> Any:
    def edit(name: str, data: dict[str, Any]) -> None:
        if name == project:
            data["releases"][version] = files

    return edit


def wheel(filename: str) -> dict[str, Any]:
    return {"filename": filename, "url": f"../../packages/xx/{filename}", "packagetype": "bdist_wheel",
            "size": 1, "digests": {"sha256": "0" * 64}, "yanked": False}  # fmt: skip


def test_new_torch_minor_is_reported_with_the_tuples_it_adds(capsys: pytest.CaptureFixture[str]) -> None:
    names = [f"torch-2.16.0-cp3{m}-cp3{m}-manylinux_2_28_x86_64.whl" for m in (11, 12, 13, 14, 15)]
    fake = FakePyPI(add_release("torch", "2.16.0", [wheel(n) for n in names]))
    meta = "Metadata-Version: 2.4\nName: torch\nVersion: 2.16.0\nRequires-Dist: nvidia-cuda-runtime==13.2.51\n"
    fake.extra_metadata[names[0]] = ("range", meta)
    code, out = run(fake, capsys, "--json")
    report = json.loads(out)
    assert code == TABLE_OUT_OF_DATE
    assert {"minor": "2.16", "field": "minor", "table": None, "pypi": "2.16.0"}.items() <= next(
        d for d in report["differences"] if d["minor"] == "2.16"
    ).items()
    assert report["torch"]["2.16"]["pypi_cuda"] == "13.2"
    added = [i for i in report["tuples"]["added"] if "torch2.16" in i]
    # PyPI's own cu13.2 build only; both packages; 3.11-3.15, but mamba-ssm's cp315 (matrix.toml excludes it)
    assert len(added) == 9 and all("-cu13.2-" in i for i in added)
    assert not [i for i in added if i.startswith("mamba-ssm") and "-cp315-" in i]


def test_new_sdist_is_reported_with_its_tuples(capsys: pytest.CaptureFixture[str]) -> None:
    sdist = {"filename": "causal_conv1d-1.8.0.tar.gz", "url": "../../packages/yy/causal_conv1d-1.8.0.tar.gz",
             "packagetype": "sdist", "size": 1, "digests": {"sha256": "1" * 64}, "yanked": False}  # fmt: skip
    fake = FakePyPI(add_release("causal-conv1d", "1.8.0", [sdist]))
    code, out = run(fake, capsys, "--json")
    report = json.loads(out)
    new = next(s for s in report["sdists"] if s["package"] == "causal-conv1d")
    assert new["new"] == ["1.8.0"]
    assert code in (TABLE_OUT_OF_DATE, NEW_SDISTS)  # 3 wins while the table itself is stale
    added = [i for i in report["tuples"]["added"] if i.startswith("causal-conv1d-1.8.0-")]
    planned_170 = [i for i in report["tuples"]["added"] if i.startswith("causal-conv1d-1.7.0-")]
    assert len(added) > 100 and not planned_170


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(FakePyPI(), capsys)
    assert "torch on PyPI" in out and "2.14.1" in out
    assert ("pytorch.toml differs from PyPI" in out) == (code == TABLE_OUT_OF_DATE)


def _online() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=3).close()
    except OSError:
        return False
    return True


@pytest.mark.integration
@pytest.mark.skipif(
    os.environ.get("FACTORY_NETWORK_TESTS") != "1", reason="reads real PyPI: set FACTORY_NETWORK_TESTS=1"
)
def test_real_pypi_torch_2_14_1_cuda() -> None:
    if not _online():
        pytest.skip("pypi.org is not reachable")
    with httpx.Client(timeout=60) as http:
        pypi = PyPI(http)
        found = command.discover(pypi, load_matrix(ROOT / "matrix.toml"), load_knowledge(), load_recipes())
    facts = found.facts["2.14"]
    assert facts.release.version >= Version("2.14.1")
    assert str(facts.pypi_cuda) == "13.0" and "cuda-toolkit" in facts.evidence
    assert pypi.bytes_read < 20_000_000  # METADATA only, never whole wheels (one is ~555 MB)
