"""Planning wanted tuples: most wanted first, from the profile's plan where it serves, else from the
knowledge table with the profile's settings; every want the matrix cannot build comes back with why."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from factory.cli import main
from factory.plan.compat import parse_compat
from factory.plan.expand import plan
from factory.plan.knowledge import load_knowledge
from factory.plan.matrix import load_matrix, parse_matrix
from factory.plan.recipes import load_recipes
from factory.plan.wanted import Widened, plan_wanted, widen
from index_server.storage.wants import WantStore
from index_server.wants import Want, WantKey, judge

ROOT = Path(__file__).resolve().parents[2]
MATRIX = load_matrix(ROOT / "matrix.toml")
T0 = datetime(2026, 12, 1, tzinfo=UTC)


def want(count: int = 1, age_h: int = 0, glibc: str | None = None, served: str | None = None, **kw: object) -> Want:
    fields: dict[str, object] = dict(
        project="causal-conv1d", release="", torch="2.14.1", cuda="13.0", cxx11_abi=True, python="3.12",
        platform="linux_x86_64",
    )  # fmt: skip
    fields.update(kw)
    seen = T0 - timedelta(hours=age_h)
    return Want(
        key=WantKey(**fields),  # type: ignore[arg-type]
        count=count, first_seen=seen, last_seen=seen, glibc=glibc, served_by=served,
    )  # fmt: skip


@pytest.fixture(scope="module")
def quick() -> tuple[list, Widened]:
    knowledge, recipes = load_knowledge(), load_recipes()
    return plan(MATRIX, knowledge, recipes, "quick").include, widen(MATRIX, knowledge, recipes, MATRIX.profile("quick"))


def test_most_wanted_first_and_one_tuple_per_spec(quick: tuple[list, Widened]) -> None:
    selected, widened = quick
    wants = [
        want(count=1, python="3.13"),
        want(count=2, age_h=5, python="3.12"),
        want(count=2, age_h=1, python="3.10"),  # as often as 3.12, asked more recently: first
        want(count=2, python="3.12", torch="2.14.0"),  # another patch release: the same tuple as 3.12's
        want(count=9, python="3.11", served="already.whl"),  # served: not planned again
    ]
    result = plan_wanted(wants, selected, widened)
    assert [(t.spec.python, t.count) for t in result.include] == [("3.12", 4), ("3.10", 2), ("3.13", 1)]
    assert result.not_planned == []


def test_in_profile_wants_take_the_profiles_tuple_others_its_settings(quick: tuple[list, Widened]) -> None:
    selected, widened = quick
    (inside,) = plan_wanted([want(python="3.11")], selected, widened).include
    assert inside.spec in selected
    (outside,) = plan_wanted([want(python="3.12")], selected, widened).include
    assert outside.spec not in selected
    assert outside.spec.id == "causal-conv1d-1.7.0-cu13.0-torch2.14-cp312-abi1"
    assert (outside.spec.archs, outside.spec.ptx, outside.spec.torch_requirement) == (("90",), None, "torch==2.14.1")


def test_the_full_plans_newer_toolkit_of_the_major_serves_a_want() -> None:
    knowledge, recipes = load_knowledge(), load_recipes()
    full = plan(MATRIX, knowledge, recipes).include
    (chosen,) = plan_wanted([want()], full, widen(MATRIX, knowledge, recipes, MATRIX.profile(None))).include
    assert chosen.spec in full and str(chosen.spec.cuda) == "13.2"  # cu13.2 works with PyPI's cu13.0 torch


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"torch": "2.16.0"}, "torch 2.16 is not in the factory's knowledge table"),
        ({"cuda": "12.1"}, "PyTorch ships no CUDA 12.1 build of torch 2.14"),
        ({"cxx11_abi": False}, "uses the C++11 ABI; a torch with the pre-C++11 ABI was built elsewhere"),
        ({"python": "3.9"}, "torch 2.14 has no CPython 3.9 wheels"),
        ({"release": "==1.0.0"}, "none is ==1.0.0"),
        ({"release": "<1.5"}, "holds no CUDA sources"),
        ({"platform": "linux_aarch64"}, "builds linux_x86_64 wheels only"),
        ({"project": "mamba-ssm", "python": "3.14", "release": "==2.2.2"}, "mamba-ssm 2.2.2: PyPI's sdist"),
    ],
)
def test_wants_the_matrix_cannot_build_say_why(quick: tuple[list, Widened], changes: dict, reason: str) -> None:
    selected, widened = quick
    result = plan_wanted([want(**changes)], selected, widened)
    assert result.include == [] and len(result.not_planned) == 1
    assert reason in result.not_planned[0].reason, result.not_planned[0].reason


def test_a_torch_minor_the_matrix_leaves_out_and_a_release_compat_refuses() -> None:
    data = tomllib.loads((ROOT / "matrix.toml").read_text())
    data["matrix"]["torch"] = ">=2.9"
    narrow = parse_matrix(data)
    failed = (
        '[[outcome]]\npackage = "causal-conv1d"\nversion = "1.7.0"\ntorch = "2.12"\ncuda = 13\nbuilds = false\n'
        'cause = "build/compiler-error"\nmessage = "error: no member named x"\nreport = "r1"\n'
        'tuple = "causal-conv1d-1.7.0-cu13.0-torch2.12-cp311-abi1"\n'
    )
    compat = parse_compat(tomllib.loads(failed))
    widened = widen(narrow, load_knowledge(), load_recipes(), narrow.profile(None), compat=compat)
    old = judge(want(torch="2.6.0", cuda="12.6").key, widened.table)
    assert not old.buildable and old.reason == "matrix.toml's torch axis (>=2.9) leaves out torch 2.6"
    # 1.7.0 does not build for torch 2.12: the newest release that does is planned instead...
    assert judge(want(torch="2.12.0").key, widened.table).release == "1.6.2.post1"
    # ...unless the user asked for 1.7.0, which is then refused with compat.toml's reason
    pinned = judge(want(torch="2.12.0", release="==1.7.0").key, widened.table)
    assert not pinned.buildable and "does not build for torch 2.12 + CUDA 13.x: build/compiler-error" in pinned.reason


def test_a_wheel_the_asker_cannot_install_is_not_planned(quick: tuple[list, Widened]) -> None:
    selected, widened = quick
    result = plan_wanted([want(glibc="2.17")], selected, widened)
    assert result.include == [] and "needs glibc 2.28 (manylinux_2_28_x86_64)" in result.not_planned[0].reason


def test_factory_plan_wanted_reads_a_data_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    from index_server.local import LocalIndex

    LocalIndex(data)  # an empty index: catalog and want store
    store = WantStore(data / "wants.sqlite3")
    for key, times in ((want(python="3.12").key, 1), (want(python="3.13").key, 3), (want(torch="2.2.0").key, 1)):
        for _ in range(times):
            store.record(key, "2.36", T0)
    argv = ["plan", "--matrix", str(ROOT / "matrix.toml"), "--profile", "quick", "--json", "--wanted", str(data)]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert [t["id"] for t in out["include"]] == [
        "causal-conv1d-1.7.0-cu13.0-torch2.14-cp313-abi1",
        "causal-conv1d-1.7.0-cu13.0-torch2.14-cp312-abi1",
    ]
    assert [w["count"] for w in out["wanted"]] == [3, 1]
    assert [n["torch"] for n in out["not_planned"]] == ["2.2.0"]
    argv[-2] = "--wanted-first"
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert [t["id"] for t in out["include"]] == [
        s.id for s in plan(MATRIX, load_knowledge(), load_recipes(), "quick").include
    ]
    assert [w["id"] for w in out["wanted_outside"]] == [
        "causal-conv1d-1.7.0-cu13.0-torch2.14-cp313-abi1",
        "causal-conv1d-1.7.0-cu13.0-torch2.14-cp312-abi1",
    ]


def test_workflow_batches_keep_the_plan_files_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`plan --wanted-first` moves wanted tuples first; the batches built from its file keep that order."""
    specs = plan(MATRIX, load_knowledge(), load_recipes(), "cu13").include
    last = specs[-1]
    data = {"include": [last.to_json(), *(s.to_json() for s in specs[:-1])], "dropped": []}
    (tmp_path / "plan.json").write_text(json.dumps(data))
    argv = ["workflow", "batches", "--slots", "1", "--plan", str(tmp_path / "plan.json"), "--profile", "cu13"]
    assert main([*argv, "--matrix", str(ROOT / "matrix.toml")]) == 0
    batch = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("batch1="))
    cells = json.loads(batch.removeprefix("batch1="))["include"]
    assert last.id in cells[0]["tuples"] and specs[0].id not in cells[0]["tuples"]
