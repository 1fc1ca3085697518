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

pytestmark = [needs_nvcc, pytest.mark.integration]


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


def test_fixture_matrix_is_planned_like_the_real_one() -> None:
    code = main(["plan", "--matrix", str(FIXTURE / "matrix.toml"), "--recipes", str(FIXTURE / "recipes.toml"),
                 "--profile", "two", "--json"])  # fmt: skip
    assert code == 0


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
