"""Pure discovery on PyPI answers recorded in tests/fixtures/pypi (re-record with its record.py)."""

from __future__ import annotations

import json
import tomllib

import pytest
from fake_pypi import BASE, FIXTURES
from packaging.utils import canonicalize_name
from packaging.version import Version

from factory.discover.diff import (
    TABLE_OUT_OF_DATE,
    UP_TO_DATE,
    Discovery,
    TupleChanges,
    compare,
    python_span,
    release_differences,
    releases_from_pypi,
    tuple_changes,
    updated_knowledge,
)
from factory.discover.pypi import parse_project
from factory.discover.torch_facts import TorchFacts, cuda_from_metadata, torch_releases
from factory.plan.knowledge import load_knowledge, parse_knowledge, torch_wheel_floor
from factory.plan.matrix import parse_matrix
from factory.plan.recipes import load_recipes
from factory.plan.releases import ReleaseTable, load_releases

FLOORS = load_knowledge().tag_floors  # torch's manylinux1 wheels need glibc 2.17


def recorded(name: str) -> dict[Version, tuple]:  # type: ignore[type-arg]
    return parse_project(json.loads((FIXTURES / f"{name}.json").read_text()), f"{BASE}/pypi/{name}/json")


def metadata(filename: str) -> str:
    return (FIXTURES / "metadata" / f"{filename}.METADATA").read_text()


def recorded_facts() -> dict[str, TorchFacts]:
    out = {}
    for minor, release in torch_releases(recorded("torch"), since="2.3", tag_floors=FLOORS).items():
        cuda, line = cuda_from_metadata(metadata(release.probe.filename), release.probe_python)
        out[minor] = TorchFacts(release=release, pypi_cuda=cuda, evidence=line, via="pep658")
    return out


def test_newest_final_release_per_minor() -> None:
    releases = torch_releases(recorded("torch"), since="2.3", tag_floors=FLOORS)
    assert next(iter(releases)) == "2.3" and "2.2" not in releases
    assert list(releases) == sorted(releases, key=Version)  # 2.10 after 2.9
    assert releases["2.12"].version == Version("2.12.1")
    assert releases["2.14"].version == Version("2.14.1")
    # urls in the mirror's JSON are relative; they are resolved against the JSON's own URL
    assert releases["2.14"].probe.url.startswith(f"{BASE}/packages/")


def test_python_range_from_cp_tags() -> None:
    releases = torch_releases(recorded("torch"), since="2.3", tag_floors=FLOORS)
    assert releases["2.3"].pythons == ("3.8", "3.9", "3.10", "3.11", "3.12")
    assert releases["2.9"].pythons == ("3.10", "3.11", "3.12", "3.13", "3.14")  # cp313t/cp314t not counted
    assert releases["2.15"].pythons[0] == "3.11"


def test_floor_from_platform_tag() -> None:
    releases = torch_releases(recorded("torch"), since="2.3", tag_floors=FLOORS)
    assert releases["2.6"].glibc_floor == "2.17"  # manylinux1, as pytorch.toml maps it
    assert releases["2.7"].glibc_floor == "2.28"
    assert torch_wheel_floor("manylinux_2_34_x86_64", FLOORS) == "2.34"
    assert torch_wheel_floor("win_amd64", FLOORS) is None
    assert torch_wheel_floor("manylinux_2_28_aarch64", FLOORS) is None


def test_probe_is_the_cp311_wheel_pip_would_pick() -> None:
    releases = torch_releases(recorded("torch"), since="2.3", tag_floors=FLOORS)
    # 2.10.0 was re-uploaded with build tag 3; pip prefers the higher build
    assert releases["2.10"].probe.filename == "torch-2.10.0-3-cp311-cp311-manylinux_2_28_x86_64.whl"
    assert all(r.probe_python == "3.11" for r in releases.values())


@pytest.mark.parametrize(
    ("minor", "cuda"),
    [("2.3", "12.1"), ("2.5", "12.4"), ("2.7", "12.6"), ("2.10", "12.8"), ("2.14", "13.0"), ("2.15", "13.2")],
)
def test_cuda_from_recorded_metadata(minor: str, cuda: str) -> None:
    release = torch_releases(recorded("torch"), since="2.3", tag_floors=FLOORS)[minor]
    found, line = cuda_from_metadata(metadata(release.probe.filename), "3.11")
    assert found == Version(cuda)
    assert line.startswith(("nvidia-cuda-runtime", "cuda-toolkit"))


def test_cuda_requirement_forms() -> None:
    def cuda(*lines: str) -> str | None:
        found, _ = cuda_from_metadata("".join(f"Requires-Dist: {x}\n" for x in lines), "3.12")
        return None if found is None else str(found)

    assert cuda("nvidia-cuda-runtime-cu11 (==11.8.89) ; platform_system == 'Linux'") == "11.8"
    assert cuda("cuda-bindings==12.9.4", "nvidia-cuda-runtime==13.1.80") == "13.1"
    assert cuda("cuda-toolkit[cudart,cublas]==13.0.3; platform_system == 'Linux'") == "13.0"
    assert cuda("nvidia-cuda-runtime-cu12==12.8.90; platform_system == 'Windows'") is None
    assert cuda("nvidia-cuda-runtime-cu12>=12.0", "filelock") is None  # no exact pin, no fact


def compare_table(**changes: object) -> str:
    row = {
        "version": "2.14.1",
        "cuda": ["12.6", "13.0", "13.2"],
        "pypi_cuda": "13.0",
        "cxx11_abi": True,
        "glibc_floor": "2.28",
        "python": ["3.10", "3.14"],
    } | changes
    lines = [f"{k} = {json.dumps(v)}" for k, v in row.items()]
    return '[torch."2.14"]\n' + "\n".join(lines) + "\n"


def test_agreeing_row_has_no_differences() -> None:
    facts = {"2.14": recorded_facts()["2.14"]}
    assert compare(parse_knowledge(tomllib.loads(compare_table())), facts) == []


def test_each_field_is_compared() -> None:
    facts = {m: f for m, f in recorded_facts().items() if m in ("2.14", "2.15")}
    table = compare_table(version="2.14.0", pypi_cuda="12.6", python=["3.10", "3.15"], glibc_floor="2.17")
    diffs = {(d.minor, d.field): d for d in compare(parse_knowledge(tomllib.loads(table)), facts)}
    assert set(diffs) == {
        ("2.14", "version"),
        ("2.14", "pypi_cuda"),
        ("2.14", "python"),
        ("2.14", "glibc_floor"),
        ("2.15", "minor"),
    }
    assert (diffs["2.14", "version"].table, diffs["2.14", "version"].pypi) == ("2.14.0", "2.14.1")
    assert diffs["2.14", "python"].pypi == "3.10–3.14" and "3.15" in diffs["2.14", "python"].note
    assert "cuda-toolkit" in diffs["2.14", "pypi_cuda"].note
    assert diffs["2.15", "minor"].table is None


def test_experimental_pythons_count_as_listed() -> None:
    facts = {"2.5": recorded_facts()["2.5"]}  # PyPI has cp313 wheels for 2.5
    table = tomllib.loads(
        '[torch."2.5"]\nversion="2.5.1"\ncuda=["11.8","12.1","12.4"]\npypi_cuda="12.4"\ncxx11_abi=false\n'
        'glibc_floor="2.17"\npython=["3.9","3.12"]\npython_experimental=["3.13"]\n'
    )
    assert compare(parse_knowledge(table), facts) == []


MATRIX = {
    "matrix": {"torch": ">=2.13", "cuda_majors": [12, 13], "python": "all"},
    "packages": [{"name": "causal-conv1d", "releases": ">=1.6.1"}],
}


def small_knowledge(python_hi: str = "3.15") -> str:
    return compare_table(python=["3.10", python_hi]).replace("2.14", "2.13").replace('"2.13.1"', '"2.13.0"')


def pypi_releases(upto: str | None = None) -> ReleaseTable:
    """causal-conv1d's releases as the recorded PyPI lists them (optionally only up to a version)."""
    name = canonicalize_name("causal-conv1d")
    rows = releases_from_pypi(name, recorded("causal-conv1d"), load_releases()[name])
    return {name: tuple(r for r in rows if upto is None or r.version <= Version(upto))}


def test_releases_are_final_ones_with_an_sdist() -> None:
    rows = pypi_releases()[canonicalize_name("causal-conv1d")]
    assert [str(r.version) for r in rows][-3:] == ["1.6.1", "1.6.2.post1", "1.7.0"]
    assert str(rows[-1].requires_python) == ">=3.9" and rows[-1].sdist == "causal_conv1d-1.7.0.tar.gz"
    assert rows[-1].cuda_sources is True  # carried over from the table: same sdist
    news = release_differences(pypi_releases("1.6.1"), pypi_releases())
    assert [(d.version, d.field) for d in news] == [("1.6.2.post1", "release"), ("1.7.0", "release")]
    assert release_differences(pypi_releases(), pypi_releases()) == []


def test_tuples_added_removed_and_rebuilt() -> None:
    before = parse_knowledge(tomllib.loads(small_knowledge()))
    facts = {m: f for m, f in recorded_facts().items() if m in ("2.13", "2.14")}
    after = updated_knowledge(before, facts)
    assert compare(after, facts) == []  # applying PyPI's facts makes the table agree
    assert after.minor("2.14").cuda == (Version("13.0"),)  # new minor: PyPI's variant only
    changes = tuple_changes(
        parse_matrix(MATRIX), before, after, load_recipes(), pypi_releases("1.6.1"), pypi_releases()
    )
    added = {s.id for s in changes.added}
    # every 1.6.1 tuple reappears for 1.7.0, plus torch 2.14 (cu13.0, 3.10-3.14) for both versions
    assert "causal-conv1d-1.7.0-cu12.6-torch2.13-cp312-abi1" in added
    assert "causal-conv1d-1.6.1-cu13.0-torch2.14-cp314-abi1" in added
    assert not any("torch2.14" in i and "cu13.2" in i for i in added)
    # torch 2.13 has no cp315 wheels on PyPI: those tuples go
    assert {s.id for s in changes.removed} == {
        "causal-conv1d-1.6.1-cu12.6-torch2.13-cp315-abi1",
        "causal-conv1d-1.6.1-cu13.2-torch2.13-cp315-abi1",
    }
    assert changes.rebuilt == []


def test_exit_codes() -> None:
    facts = recorded_facts()
    quiet = {"release_differences": [], "releases": {}, "planned": {}, "changes": TupleChanges()}
    empty = Discovery(facts=facts, differences=[], **quiet)  # type: ignore[arg-type]
    assert empty.exit_code == UP_TO_DATE and empty.to_json()["up_to_date"] is True
    news = release_differences(pypi_releases("1.6.1"), pypi_releases())
    new_release = Discovery(facts=facts, differences=[], **quiet | {"release_differences": news})  # type: ignore[arg-type]
    assert new_release.exit_code == TABLE_OUT_OF_DATE
    table = parse_knowledge(tomllib.loads(compare_table(version="2.14.0")))
    stale = Discovery(facts=facts, differences=compare(table, facts), **quiet)  # type: ignore[arg-type]
    assert stale.exit_code == TABLE_OUT_OF_DATE
    assert stale.to_json()["differences"][0]["field"] in {"minor", "version"}


def test_python_span() -> None:
    assert python_span(("3.10", "3.11", "3.12")) == "3.10–3.12"
    assert python_span(("3.10", "3.12")) == "3.10, 3.12"
    assert python_span(()) == "none"
