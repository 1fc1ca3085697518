"""`factory discover` end to end over the recorded PyPI (MockTransport), and once over the real PyPI."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_pypi import BASE, FakePyPI, sdist_bytes
from packaging.utils import canonicalize_name
from packaging.version import Version

from factory.cli import build_parser
from factory.commands import discover as command
from factory.discover.diff import TABLE_OUT_OF_DATE, UP_TO_DATE, updated_knowledge
from factory.discover.pypi import PyPI
from factory.plan.knowledge import load_knowledge
from factory.plan.matrix import load_matrix
from factory.plan.recipes import load_recipes
from factory.plan.releases import load_releases

ROOT = Path(__file__).parents[2]


def run(fake: FakePyPI, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    args = build_parser().parse_args(["discover", "--matrix", str(ROOT / "matrix.toml"), "--pypi-url", BASE, *extra])
    code = command.run(args, http=fake.client())
    return code, capsys.readouterr().out


def test_json_report_matches_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakePyPI()
    code, out = run(fake, capsys, "--json")
    report = json.loads(out)
    # the packaged tables and matrix.toml agree with the recorded PyPI (re-record tests/fixtures/pypi with them)
    assert code == report["exit_code"] == UP_TO_DATE
    assert report["differences"] == [] and report["release_differences"] == []
    assert report["torch"]["2.14"]["pypi_cuda"] == "13.0"
    assert report["torch"]["2.14"]["metadata_via"] == "range"  # the recorded mirror had no .metadata for it
    assert report["torch"]["2.9"]["metadata_via"] == "pep658"
    assert set(report["releases"]) == {"causal-conv1d", "mamba-ssm"}
    assert report["releases"]["causal-conv1d"]["planned"] == [
        "1.4.0",
        "1.5.0.post8",
        "1.5.3.post1",
        "1.6.2.post1",
        "1.7.0",
    ]
    assert report["releases"]["mamba-ssm"]["planned"][0] == "2.2.2"
    # the wheels without a .metadata file were read in ranges, never whole
    assert fake.wheel_ranges, "no wheel was read: the range path did not run"
    assert all(r is not None and re.fullmatch(r"bytes=\d*-\d+", r) for r in fake.wheel_ranges), fake.wheel_ranges


def test_table_with_pypi_facts_applied_is_up_to_date() -> None:
    fake = FakePyPI()
    pypi = PyPI(fake.client(), BASE)
    matrix, recipes = load_matrix(ROOT / "matrix.toml"), load_recipes()
    first = command.discover(pypi, matrix, load_knowledge(), recipes, load_releases())
    fixed = updated_knowledge(load_knowledge(), first.facts)
    again = command.discover(pypi, matrix, fixed, recipes, first.releases)
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
    # PyPI's own cu13.2 build only; the 8 buildable releases the policies plan; 3.11-3.15, but not mamba-ssm
    # 2.3.2.post1 on cp315 (matrix.toml excludes it: its dependencies have no cp315 wheels)
    assert len(added) == 8 * 5 - 1 and all("-cu13.2-" in i for i in added)
    assert not [i for i in added if i.startswith("mamba-ssm-2.3.2.post1") and "-cp315-" in i]


def sdist_row(version: str, sha: str = "1" * 64) -> dict[str, Any]:
    name = f"causal_conv1d-{version}.tar.gz"
    return {"filename": name, "url": f"../../packages/yy/{name}", "packagetype": "sdist", "size": 1,
            "digests": {"sha256": sha}, "yanked": False, "requires_python": ">=3.10"}  # fmt: skip


def test_new_release_is_reported_with_its_tuples(capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakePyPI(add_release("causal-conv1d", "1.8.0", [sdist_row("1.8.0")]))
    code, out = run(fake, capsys, "--json")
    report = json.loads(out)
    assert code == TABLE_OUT_OF_DATE  # the releases table lacks 1.8.0
    assert report["releases"]["causal-conv1d"]["new"] == ["1.8.0"]
    assert {"version": "1.8.0", "field": "release", "table": None}.items() <= report["release_differences"][0].items()
    assert "1.8.0" in report["releases"]["causal-conv1d"]["planned"]  # the policy (>=1.4.0) takes it
    added = [i for i in report["tuples"]["added"] if i.startswith("causal-conv1d-1.8.0-")]
    assert len(added) > 50 and not any("-cp39-" in i for i in added)  # its own Requires-Python (>=3.10)
    assert not [i for i in report["tuples"]["added"] if i.startswith("causal-conv1d-1.7.0-")]


def test_changed_sdist_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakePyPI(add_release("causal-conv1d", "1.7.0", [sdist_row("1.7.0", sha="2" * 64)]))
    code, out = run(fake, capsys, "--json")
    diffs = json.loads(out)["release_differences"]
    assert code == TABLE_OUT_OF_DATE
    assert [(d["version"], d["field"]) for d in diffs] == [("1.7.0", "sdist"), ("1.7.0", "requires_python")]


def test_write_releases_inspects_new_sdists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with_cu, without = sdist_bytes({"csrc/conv.cu": "// kernel"}), sdist_bytes({"setup.py": ""})
    fake = FakePyPI(add_release("causal-conv1d", "1.8.0", [sdist_row("1.8.0", hashlib.sha256(with_cu).hexdigest())]))
    fake.files["causal_conv1d-1.8.0.tar.gz"] = with_cu
    out = tmp_path / "releases.toml"
    code, _ = run(fake, capsys, "--write-releases", str(out))
    assert code == TABLE_OUT_OF_DATE
    written = load_releases(out)
    newest = written[canonicalize_name("causal-conv1d")][-1]
    assert (str(newest.version), newest.cuda_sources, str(newest.requires_python)) == ("1.8.0", True, ">=3.10")
    # the rest came over from the packaged table without a download
    assert written[canonicalize_name("mamba-ssm")] == load_releases()[canonicalize_name("mamba-ssm")]
    assert [r.url.path for r in fake.seen if r.url.path.endswith(".tar.gz")] == [
        "/packages/yy/causal_conv1d-1.8.0.tar.gz"
    ]
    # a written table that PyPI agrees with: up to date as far as releases go
    fake.files["causal_conv1d-1.8.0.tar.gz"] = without
    _, again = run(fake, capsys, "--json", "--releases", str(out))
    assert json.loads(again)["release_differences"] == []


def test_a_stale_table_outranks_a_new_sdist(capsys: pytest.CaptureFixture[str]) -> None:
    sdist = {"filename": "causal_conv1d-1.8.0.tar.gz", "url": "../../packages/yy/causal_conv1d-1.8.0.tar.gz",
             "packagetype": "sdist", "size": 1, "digests": {"sha256": "1" * 64}, "yanked": False}  # fmt: skip
    torch = add_release("torch", "2.16.0", [wheel("torch-2.16.0-cp311-cp311-manylinux_2_28_x86_64.whl")])
    sdists = add_release("causal-conv1d", "1.8.0", [sdist])
    fake = FakePyPI(lambda name, data: (torch(name, data), sdists(name, data)))
    fake.extra_metadata["torch-2.16.0-cp311-cp311-manylinux_2_28_x86_64.whl"] = (
        "pep658",
        "Metadata-Version: 2.4\nName: torch\nVersion: 2.16.0\nRequires-Dist: nvidia-cuda-runtime==13.2.51\n",
    )
    code, out = run(fake, capsys, "--json")
    report = json.loads(out)
    assert report["releases"]["causal-conv1d"]["new"] == ["1.8.0"]
    assert {d["minor"] for d in report["differences"]} >= {"2.16"}  # the torch table is stale too
    assert code == TABLE_OUT_OF_DATE


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
        matrix = load_matrix(ROOT / "matrix.toml")
        found = command.discover(pypi, matrix, load_knowledge(), load_recipes(), load_releases())
    facts = found.facts["2.14"]
    assert facts.release.version >= Version("2.14.1")
    assert str(facts.pypi_cuda) == "13.0" and "cuda-toolkit" in facts.evidence
    assert pypi.bytes_read < 20_000_000  # METADATA only, never whole wheels (one is ~555 MB)


def test_write_knowledge_gives_the_plan_a_new_torch_minor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What the rebuild workflow plans with: the table with PyPI's facts applied, read back by the planner."""
    from factory.commands.common import plan_from_args

    names = [f"torch-2.16.0-cp3{m}-cp3{m}-manylinux_2_28_x86_64.whl" for m in (11, 12, 13, 14, 15)]
    fake = FakePyPI(add_release("torch", "2.16.0", [wheel(n) for n in names]))
    meta = "Metadata-Version: 2.4\nName: torch\nVersion: 2.16.0\nRequires-Dist: nvidia-cuda-runtime==13.2.51\n"
    fake.extra_metadata[names[0]] = ("range", meta)
    out = tmp_path / "pytorch.toml"
    code, _ = run(fake, capsys, "--write-knowledge", str(out))
    assert code == TABLE_OUT_OF_DATE
    written = load_knowledge(out)
    assert str(written.minors["2.16"].version) == "2.16.0" and str(written.minors["2.16"].pypi_cuda) == "13.2"
    assert {m: r for m, r in written.minors.items() if m != "2.16"} == load_knowledge().minors  # the rest as packaged
    args = build_parser().parse_args(["plan", "--matrix", str(ROOT / "matrix.toml"), "--knowledge", str(out)])
    assert any(s.torch_minor == "2.16" for s in plan_from_args(args).include)
