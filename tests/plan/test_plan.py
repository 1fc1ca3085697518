import json
import tomllib
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from factory.cli import main
from factory.errors import ConfigError, PlanError
from factory.plan.compat import learn, outcomes_from_report
from factory.plan.expand import Plan, plan
from factory.plan.knowledge import load_knowledge
from factory.plan.matrix import load_matrix, parse_matrix
from factory.plan.recipes import load_recipes
from factory.plan.releases import load_releases

ROOT = Path(__file__).resolve().parents[2]
REQUIRED_KEYS = {"id", "package", "version", "cuda", "torch", "python", "cxx11_abi", "platform"}


@pytest.fixture(scope="module")
def full() -> Plan:
    """The full matrix as the tables plan it before any build taught anything (an empty compat table): the
    packaged compat.toml grows as slices are built, and these figures must not move with it."""
    return plan(load_matrix(ROOT / "matrix.toml"), load_knowledge(), load_recipes(), compat={})


def test_the_packaged_compat_table_drops_what_builds_showed(full: Plan) -> None:
    learned = plan(load_matrix(ROOT / "matrix.toml"), load_knowledge(), load_recipes())
    gone = {s.id for s in full.include} - {s.id for s in learned.include}
    assert {s.id for s in learned.include} <= {s.id for s in full.include}
    # mamba-ssm 2.3.2.post1 declares triton>=3.5, which torch 2.5 pins below (learned by a real build)
    assert "mamba-ssm-2.3.2.post1-cu12.4-torch2.5-cp310-abi0" in gone
    assert any("triton>=3.5" in d.reason and d.torch == "2.5" for d in learned.dropped)


def test_full_matrix_covers_every_minor_and_both_packages(full: Plan) -> None:
    # 8 buildable releases (3 of causal-conv1d, 5 of mamba-ssm) x ~110 tuples each, before compat.toml
    assert len(full.include) == 939
    seen = {(s.package, s.torch_minor) for s in full.include}
    for minor in ["2.3", "2.4", "2.5", "2.6", "2.7", "2.8", "2.9", "2.10", "2.11", "2.12", "2.13", "2.14"]:
        for package in ("causal-conv1d", "mamba-ssm"):
            assert (package, minor) in seen, (package, minor)
    ids = [s.id for s in full.include]
    assert len(ids) == len(set(ids)), "tuple ids must be unique"


def test_cuda_majors_per_minor(full: Plan) -> None:
    majors: dict[str, set[int]] = {}
    for s in full.include:
        majors.setdefault(s.torch_minor, set()).add(s.cuda_major)
    assert majors["2.3"] == {11, 12}
    assert majors["2.7"] == {11, 12}
    assert majors["2.8"] == {12}
    assert majors["2.9"] == {12, 13}
    assert majors["2.14"] == {12, 13}


def test_nothing_pytorch_never_shipped(full: Plan) -> None:
    knowledge = load_knowledge()
    for s in full.include:
        minor = Version(s.torch_minor)
        assert not (s.cuda_major == 13 and minor < Version("2.9")), s.id
        assert not (s.cuda_major == 11 and minor > Version("2.7")), s.id
        assert not (not s.cxx11_abi and minor > Version("2.6")), s.id
        assert s.python in knowledge.minor(s.torch_minor).pythons, s.id
        assert s.cuda in knowledge.minor(s.torch_minor).cuda, s.id


def test_one_wheel_per_major_with_its_newest_toolkit(full: Plan) -> None:
    per = Counter((s.package, s.version, s.torch_minor, s.cuda_major, s.cxx11_abi, s.python) for s in full.include)
    assert max(per.values()) == 1
    cudas = {(s.torch_minor, s.cuda_major): s.cuda for s in full.include if s.cxx11_abi or s.torch_minor != "2.6"}
    assert cudas[("2.9", 12)] == Version("12.8")
    assert cudas[("2.8", 12)] == Version("12.9")
    assert cudas[("2.14", 13)] == Version("13.2")


def test_abi_of_torch_builds(full: Plan) -> None:
    abis = {(s.torch_minor, str(s.cuda)): s.cxx11_abi for s in full.include}
    assert abis[("2.5", "12.4")] is False
    assert abis[("2.6", "11.8")] is False
    assert abis[("2.6", "12.4")] is False
    assert abis[("2.6", "12.6")] is True
    assert abis[("2.7", "12.8")] is True
    pins = {s.torch_pin for s in full.include if s.torch_minor == "2.6" and s.cuda_major == 12}
    assert pins == {"torch>=2.6,<2.7", "torch==2.6.0+cu126"}


def test_classic_install_guide_tuple(full: Plan) -> None:
    # torch 2.3.0 + CUDA 11.8 + Python 3.10: the tuple exists and its wheel accepts that torch
    match = [
        s
        for s in full.include
        if s.package == "mamba-ssm" and s.torch_minor == "2.3" and s.cuda_major == 11 and s.python == "3.10"
    ]
    assert [str(s.version) for s in match] == ["2.2.5", "2.2.6.post3", "2.3.0", "2.3.1", "2.3.2.post1"]
    assert Version("2.3.0+cu118") in Requirement(match[0].torch_pin).specifier
    assert match[0].platform == "manylinux_2_28_x86_64"  # torch 2.3 is 2_17: raised (plan.build_platform)


def test_pythons_follow_torch_and_requires_python(full: Plan) -> None:
    pythons: dict[tuple[str, str, str], set[str]] = {}
    for s in full.include:
        pythons.setdefault((s.package, str(s.version), s.torch_minor), set()).add(s.python)
    assert pythons[("causal-conv1d", "1.7.0", "2.3")] == {"3.9", "3.10", "3.11", "3.12"}  # 3.8: needs >=3.9
    assert pythons[("mamba-ssm", "2.3.2.post1", "2.3")] == {"3.10", "3.11", "3.12"}  # matrix.toml exclude
    # 2.3.1 and older do not depend on tilelang/quack-kernels (their setup.py), so 3.9 stays
    assert pythons[("mamba-ssm", "2.3.1", "2.3")] == {"3.9", "3.10", "3.11", "3.12"}
    assert pythons[("causal-conv1d", "1.7.0", "2.5")] == {"3.9", "3.10", "3.11", "3.12"}  # 3.13 experimental
    assert pythons[("causal-conv1d", "1.7.0", "2.9")] == {"3.10", "3.11", "3.12", "3.13", "3.14"}


def test_dropped_entries_name_combination_and_reason(full: Plan) -> None:
    reasons = [d.reason for d in full.dropped]
    assert any("no CUDA 13.x build of torch 2.8" in r for r in reasons)
    assert any("no CPython 3.13 wheels (experimental" in r for r in reasons)
    assert any("requires Python >=3.9" in r for r in reasons)
    assert any("tilelang" in r for r in reasons)
    for d in full.dropped:
        assert d.reason and d.torch and d.package


def test_archs_follow_the_toolkit(full: Plan) -> None:
    by_cuda = {str(s.cuda): s for s in full.include if s.package == "causal-conv1d" and str(s.version) == "1.7.0"}
    assert by_cuda["11.8"].archs == ("75", "80", "87", "90")
    assert "120" in by_cuda["12.8"].archs and "110" not in by_cuda["12.8"].archs
    assert by_cuda["13.2"].ptx == "121"


def test_quick_profile_is_exactly_two_tuples() -> None:
    quick = plan(load_matrix(ROOT / "matrix.toml"), load_knowledge(), load_recipes(), "quick")
    assert sorted(s.id for s in quick.include) == [
        "causal-conv1d-1.7.0-cu13.0-torch2.14-cp311-abi1",
        "mamba-ssm-2.3.2.post1-cu13.0-torch2.14-cp311-abi1",
    ]
    for s in quick.include:
        assert s.archs == ("90",) and s.ptx is None
        assert s.torch == Version("2.14.1") and s.torch_on_pypi
        assert s.platform == "manylinux_2_28_x86_64"


def test_cli_json_is_a_github_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--matrix", str(ROOT / "matrix.toml"), "--profile", "quick", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"include", "dropped"}
    assert len(data["include"]) == 2
    for entry in data["include"]:
        assert set(entry) >= REQUIRED_KEYS
        assert entry["cuda"] == "13.0" and entry["torch"] == "2.14" and entry["cxx11_abi"] is True


def test_cli_table_and_bad_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--matrix", str(ROOT / "matrix.toml")]) == 0
    assert "tuples to build" in capsys.readouterr().out
    assert main(["plan", "--matrix", str(ROOT / "matrix.toml"), "--profile", "nope"]) == 2
    assert "no profile 'nope'" in capsys.readouterr().err


MINIMAL = """
[matrix]
torch = ">=2.9"
cuda_majors = [12, 13]
[[packages]]
name = "causal-conv1d"
versions = ["1.7.0"]
"""


def test_full_plan_holds_each_policy_release_or_says_why_not(full: Plan) -> None:
    planned = {(str(s.package), str(s.version)) for s in full.include}
    causal = sorted(v for p, v in planned if p == "causal-conv1d")
    mamba = sorted(v for p, v in planned if p == "mamba-ssm")
    assert causal == ["1.5.3.post1", "1.6.2.post1", "1.7.0"]  # newest of 1.5, 1.6, 1.7 (1.4's has no sources)
    assert mamba == ["2.2.5", "2.2.6.post3", "2.3.0", "2.3.1", "2.3.2.post1"]  # every release >= 2.2.2 that can build
    no_sources = {(str(d.package), str(d.version)): d.reason for d in full.dropped if d.torch == "*"}
    assert set(no_sources) == {
        ("causal-conv1d", "1.4.0"),
        ("causal-conv1d", "1.5.0.post8"),  # a named release: in the policy although 1.5.3.post1 is newer
        ("mamba-ssm", "2.2.2"),
        ("mamba-ssm", "2.2.3.post2"),
        ("mamba-ssm", "2.2.4"),
    }
    assert all("holds no CUDA sources" in r for r in no_sources.values())


def test_each_release_uses_its_own_requires_python() -> None:
    releases = load_releases()
    name = canonicalize_name("causal-conv1d")
    old = tuple(
        replace(r, requires_python=SpecifierSet(">=3.11")) if str(r.version) == "1.7.0" else r for r in releases[name]
    )
    result = plan(
        parse_matrix(tomllib.loads(MINIMAL)), load_knowledge(), load_recipes(), releases={**releases, name: old}
    )
    assert {s.python for s in result.include} == {"3.11", "3.12", "3.13", "3.14", "3.15"}
    assert any(d.reason == "causal-conv1d 1.7.0 requires Python >=3.11" and d.python == "3.10" for d in result.dropped)


def test_profiles_cu13_and_releases() -> None:
    matrix, knowledge, recipes = load_matrix(ROOT / "matrix.toml"), load_knowledge(), load_recipes()
    cu13 = plan(matrix, knowledge, recipes, "cu13")
    assert {(str(s.package), str(s.version)) for s in cu13.include} == {
        ("causal-conv1d", "1.7.0"),
        ("mamba-ssm", "2.3.2.post1"),
    }
    assert {s.torch_minor for s in cu13.include} == {"2.11", "2.12", "2.13", "2.14", "2.15"}
    assert {s.cuda_major for s in cu13.include} == {13} and {s.python for s in cu13.include} == {
        "3.10", "3.11", "3.12", "3.13"
    }  # fmt: skip
    assert all(s.archs == ("80", "90") and s.ptx == "90" for s in cu13.include)
    # the full matrix's toolkit choice: the newest 13.x each minor ships (2.12-2.14: 13.2, only on PyTorch's
    # index, so this profile builds those against PyPI's torch of the release, CUDA 13.0, and says so)
    assert {
        (s.torch_minor, str(s.cuda), str(s.torch_cuda), s.torch_on_pypi, s.torch_stand_in_for) for s in cu13.include
    } == {
        ("2.11", "13.0", "13.0", True, None),
        ("2.12", "13.2", "13.0", True, "2.12.1+cu132"),
        ("2.13", "13.2", "13.0", True, "2.13.0+cu132"),
        ("2.14", "13.2", "13.0", True, "2.14.1+cu132"),
        ("2.15", "13.2", "13.2", True, None),
    }
    stand_in = next(s for s in cu13.include if s.torch_stand_in_for)
    assert stand_in.torch_requirement == f"torch=={stand_in.torch}" and stand_in.torch_pin.startswith("torch>=")
    assert stand_in.to_json()["torch_stand_in_for"] == stand_in.torch_stand_in_for
    assert "torch_stand_in_for" not in next(s for s in cu13.include if not s.torch_stand_in_for).to_json()
    # the full matrix, which the workflow builds where PyTorch's index is reachable, uses the real variants
    full_plan = plan(matrix, knowledge, recipes)
    assert not any(s.torch_stand_in_for for s in full_plan.include)
    assert any(s.torch_minor == "2.14" and str(s.cuda) == "13.2" and not s.torch_on_pypi for s in full_plan.include)
    assert len(cu13.include) == 2 * (4 * 4 + 3)  # torch 2.15 has no cp310 wheels
    releases = plan(matrix, knowledge, recipes, "releases")
    assert sorted(s.id for s in releases.include) == sorted(
        f"{p}-{v}-cu13.0-torch2.14-cp311-abi1"
        for p, v in [
            ("causal-conv1d", "1.5.3.post1"), ("causal-conv1d", "1.6.2.post1"), ("causal-conv1d", "1.7.0"),
            ("mamba-ssm", "2.2.5"), ("mamba-ssm", "2.2.6.post3"), ("mamba-ssm", "2.3.0"), ("mamba-ssm", "2.3.1"),
            ("mamba-ssm", "2.3.2.post1"),
        ]
    )  # fmt: skip


def test_cli_json_names_each_tuples_release(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--matrix", str(ROOT / "matrix.toml"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    per_package = Counter(p for p, _ in {(e["package"], e["version"]) for e in data["include"]})
    assert per_package["causal-conv1d"] >= 3 and per_package["mamba-ssm"] >= 3
    assert all(e["id"].startswith(f"{e['package']}-{e['version']}-") for e in data["include"])


def test_learned_failure_drops_its_pair_with_the_reason() -> None:
    spec_json = {"package": "causal-conv1d", "version": "1.7.0", "torch": "2.14", "cuda_major": 13}
    report = {
        "run_id": "run-20261130-0100",
        "tuples": [
            {
                "id": "causal-conv1d-1.7.0-cu13.0-torch2.14-cp311-abi1",
                "spec": spec_json,
                "outcome": "failed",
                "stage": "build",
                "cause": "build-failed",
                "message": "error: no member named 'foo' in namespace 'cub'",
            }
        ],
    }
    compat = learn({}, outcomes_from_report(report))
    result = plan(parse_matrix(tomllib.loads(MINIMAL)), load_knowledge(), load_recipes(), compat=compat)
    assert not any(s.torch_minor == "2.14" and s.cuda_major == 13 for s in result.include)
    assert any(s.torch_minor == "2.14" and s.cuda_major == 12 for s in result.include)  # untried: still planned
    reasons = {d.reason for d in result.dropped if "does not build" in d.reason}
    assert len(reasons) == 1
    reason = reasons.pop()
    dropped = [d for d in result.dropped if d.reason == reason]
    # learned on 13.0, it holds for the CUDA major: the full matrix builds 2.14 with 13.2
    assert {(d.torch, d.cuda) for d in dropped} == {("2.14", "13.2")} and len(dropped) == 5  # cp310-cp314
    assert "build/build-failed: error: no member named 'foo'" in reason and "run-20261130-0100" in reason


def test_exclude_and_override_are_data() -> None:
    data = (
        MINIMAL
        + """
[[exclude]]
match = { torch = ">=2.14", cuda = ">=13" }
reason = "testing: no CUDA 13 for torch 2.14"
[[override]]
match = { cuda = "<13" }
set = { archs = ["80"], ptx = false }
"""
    )
    result = plan(parse_matrix(tomllib.loads(data)), load_knowledge(), load_recipes())
    assert not any(s.torch_minor == "2.14" and s.cuda_major == 13 for s in result.include)
    assert any(d.reason == "testing: no CUDA 13 for torch 2.14" for d in result.dropped)
    for s in result.include:
        if s.cuda_major == 12:
            assert s.archs == ("80",) and s.ptx is None
        else:
            assert "90" in s.archs and s.ptx is not None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[[exclude]]\nmatch = { torch = ">=2.14" }\n', "needs a reason"),
        ('[[exclude]]\nmatch = { colour = "red" }\nreason = "x"\n', "unknown match keys"),
        ('[[override]]\nmatch = {}\nset = { cflags = "-O0" }\n', "cannot override"),
        ('[[exclude]]\nmatch = { torch = "2.x" }\nreason = "x"\n', "not a version specifier"),
    ],
)
def test_bad_matrix_errors(extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_matrix(tomllib.loads(MINIMAL + extra))


def test_profile_selecting_nothing_is_an_error() -> None:
    data = MINIMAL + '[profiles.none]\ncuda = ["11.8"]\n'
    with pytest.raises(PlanError, match="selects no buildable tuple"):
        plan(parse_matrix(tomllib.loads(data)), load_knowledge(), load_recipes(), "none")


def test_missing_matrix_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such matrix file"):
        load_matrix(tmp_path / "matrix.toml")


def test_a_runs_report_carries_the_dropped_combinations_of_its_packages() -> None:
    from factory.cli import build_parser
    from factory.commands.common import selected_plan

    args = build_parser().parse_args(
        ["run", "--matrix", str(ROOT / "matrix.toml"), "--profile", "releases", "--only", "causal-conv1d-1.7.0-*"]
    )
    specs, dropped = selected_plan(args)
    assert [s.id for s in specs] == ["causal-conv1d-1.7.0-cu13.0-torch2.14-cp311-abi1"]
    # every release of the package the run builds, so the page can say why 1.4.0 has no wheel; none of mamba-ssm's
    assert {str(d.package) for d in dropped} == {"causal-conv1d"}
    assert any(str(d.version) == "1.4.0" and "no CUDA sources" in d.reason for d in dropped)
