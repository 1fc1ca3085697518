"""`factory run` end to end on the fixture packages: publish, skip what is published, resume, isolate."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from build_fixtures import FIXTURE, fixture_args, make_sdist, needs_nvcc

from factory.cli import main
from index_server.local import LocalIndex

ROOT = FIXTURE.parents[2]


@pytest.fixture(scope="module")
def sdists(fixture_sdists: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {**fixture_sdists, "tiny-ext-two": make_sdist("tiny-ext-two", "0.1.0", tmp_path_factory.mktemp("two"))}


def run_cli(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["run", *args])
    return code, out.getvalue()


def latest_report(work: Path) -> dict[str, object]:
    newest = max((work / "reports").glob("*.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(newest.read_text())


@needs_nvcc
@pytest.mark.integration
def test_broken_tuple_is_reported_and_the_rest_published(
    sdists: dict[str, Path], build_cache: Path, tmp_path: Path
) -> None:
    data, work = tmp_path / "data", tmp_path / "work"
    args = [*fixture_args(sdists, build_cache), "--profile", "with-broken", "--data", str(data), "--work", str(work)]
    code, _ = run_cli([*args, "--jobs", "2"])
    assert code == 1  # a failed tuple fails the run, after the others finished
    report = latest_report(work)
    by = {t["id"].split("-0.1.0")[0]: t for t in report["tuples"]}  # type: ignore[attr-defined]
    assert by["tiny-ext"]["outcome"] == "published"
    assert by["tiny-ext-broken"]["outcome"] == "failed"
    assert by["tiny-ext-broken"]["stage"] == "build" and by["tiny-ext-broken"]["cause"] == "compiler-error"
    assert by["tiny-ext-broken"]["message"].startswith("csrc/kernel.cu(6): error")
    index = LocalIndex(data)
    (info,) = index.build_infos()
    assert info["input_key"] == by["tiny-ext"]["input_key"]
    assert [f.filename for f in index.files()] == [by["tiny-ext"]["wheel"]]
    # the report and the failed tuple's log reached the index (they drive the web matrix)
    stored = list((data / "reports").glob("*/report.json"))
    assert stored and "compiler-error" in stored[0].read_text()

    # nothing changed: nothing is built again
    log = work / by["tiny-ext"]["id"] / "build.log"
    before = log.stat().st_mtime_ns
    code, _ = run_cli([*fixture_args(sdists, build_cache), "--profile", "ci", "--data", str(data), "--work", str(work)])
    assert code == 0
    assert [t["outcome"] for t in latest_report(work)["tuples"]] == ["unchanged"]  # type: ignore[index]
    assert log.stat().st_mtime_ns == before


@needs_nvcc
@pytest.mark.integration
def test_killed_run_resumes_without_rebuilding_finished_tuples(
    sdists: dict[str, Path], build_cache: Path, tmp_path: Path
) -> None:
    data, work = tmp_path / "data", tmp_path / "work"
    args = [
        *fixture_args(sdists, build_cache),
        "--profile",
        "two",
        "--data",
        str(data),
        "--work",
        str(work),
        "--jobs",
        "1",
    ]
    factory = Path(sys.executable).parent / "factory"
    proc = subprocess.Popen([factory, "run", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    second_log = work / "tiny-ext-two-0.1.0-cu13.0-torch2.14-cp311-abi1" / "build.log"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if second_log.exists() and "=== build ===" in second_log.read_text():
            break
        assert proc.poll() is None, "the run ended before the second tuple started building"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process group: the run and its compilers
    proc.wait()
    index = LocalIndex(data)
    published = [f.filename for f in index.files()]
    assert len(published) == 1 and published[0].startswith("tiny_ext-0.1.0+")
    visible = {p.name for p in (data / "files").rglob("*") if p.is_file() and ".tmp" not in p.parts}
    assert visible <= {published[0], published[0] + ".metadata"}  # nothing half-published

    code, _ = run_cli(args)
    assert code == 0
    outcomes = {t["id"].split("-0.1.0")[0]: t["outcome"] for t in latest_report(work)["tuples"]}  # type: ignore[attr-defined]
    assert outcomes == {"tiny-ext": "unchanged", "tiny-ext-two": "published"}
    assert len(LocalIndex(data).files()) == 2


def plan_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, list[dict[str, object]]]:
    assert main(["plan", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_fixture_matrix_is_planned_like_the_real_one(capsys: pytest.CaptureFixture[str]) -> None:
    fixture = plan_json(capsys, "--matrix", str(FIXTURE / "matrix.toml"), "--recipes", str(FIXTURE / "recipes.toml"),
                        "--releases", str(FIXTURE / "releases.toml"),
                        "--profile", "two")  # fmt: skip
    real = plan_json(capsys, "--matrix", str(ROOT / "matrix.toml"), "--profile", "quick")
    assert fixture["dropped"] == []
    ids = [t["id"] for t in fixture["include"]]
    assert ids == ["tiny-ext-0.1.0-cu13.0-torch2.14-cp311-abi1", "tiny-ext-two-0.1.0-cu13.0-torch2.14-cp311-abi1"]
    assert [t["archs"] for t in fixture["include"]] == [["90"], ["90"]]  # the fixture recipe's one arch
    # apart from what names the package, a fixture tuple is the real quick profile's torch 2.14/cp311 tuple
    own = {"id", "package", "version", "archs", "ptx"}
    (like,) = [t for t in real["include"] if t["id"] == "causal-conv1d-1.7.0-cu13.0-torch2.14-cp311-abi1"]
    expected = {k: v for k, v in like.items() if k not in own}
    for planned in fixture["include"]:
        assert {k: v for k, v in planned.items() if k not in own} == expected
    assert expected["platform"] == "manylinux_2_28_x86_64" and expected["channel"] == "cu13"
    assert expected["local_version"] == "cu.13.0.torch.2.14.abi.1" and expected["torch_pin"] == "torch>=2.14,<2.15"


README_PATCH = """
[[packages.tiny-ext.patches]]
name = "readme-note"
why = "changes no code: the patch list is a declared input, so the input key changes"
file = "PKG-INFO"
find = "Metadata-Version: 2.1"
replace = "Metadata-Version: 2.1"
"""


def test_a_changed_recipe_publishes_build_2_and_keeps_build_1(
    sdists: dict[str, Path], build_cache: Path, tmp_path: Path
) -> None:
    """The must-show flow on the fixture: run, run with one more patch (build 2), run again (nothing)."""
    data, work = tmp_path / "data", tmp_path / "work"
    changed = tmp_path / "recipes.toml"
    changed.write_text((FIXTURE / "recipes.toml").read_text() + README_PATCH)
    base = [*fixture_args(sdists, build_cache), "--profile", "ci", "--data", str(data), "--work", str(work)]
    assert run_cli(base)[0] == 0
    assert run_cli([*base, "--recipes", str(changed)])[0] == 0  # the later --recipes wins
    names = sorted(f.filename for f in LocalIndex(data).files())
    assert [n.split("-")[2] for n in names] == ["1", "2"], names  # build 1 stays listed
    assert all(f.yanked_reason is None for f in LocalIndex(data).files())  # same platform tags: no yank
    assert run_cli([*base, "--recipes", str(changed)])[0] == 0
    assert [t["outcome"] for t in latest_report(work)["tuples"]] == ["unchanged"]  # type: ignore[index]
    assert len(LocalIndex(data).files()) == 2
