"""The `pypi`, `pypi-here` and `guide` profiles: PyPI's own torch per minor, toolkits standing in out loud,
torch's own glibc floor, and per torch minor the newest release not shown to fail."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from factory.plan.compat import PairResult
from factory.plan.expand import Plan, plan
from factory.plan.knowledge import load_knowledge
from factory.plan.matrix import load_matrix, parse_matrix
from factory.plan.recipes import load_recipes
from factory.plan.spec import BuildSpec

ROOT = Path(__file__).resolve().parents[2]
MINORS = ["2.3", "2.4", "2.5", "2.6", "2.7", "2.8", "2.9", "2.10", "2.11", "2.12", "2.13", "2.14", "2.15"]


def planned(profile: str, **kw: object) -> Plan:
    return plan(load_matrix(ROOT / "matrix.toml"), load_knowledge(), load_recipes(), profile, **kw)  # type: ignore[arg-type]


def by_minor(p: Plan, package: str, python: str = "3.10") -> dict[str, BuildSpec]:
    return {s.torch_minor: s for s in p.include if s.package == package and s.python == python}


def test_pypi_here_plans_both_packages_on_cp310_for_every_minor_and_2_8_on_cp312() -> None:
    here = planned("pypi-here")
    for package in ("causal-conv1d", "mamba-ssm"):
        assert sorted(by_minor(here, package), key=Version) == MINORS[:-1]  # torch 2.15 has no cp310 wheels
        assert set(by_minor(here, package, "3.12")) == {"2.8"}
        assert set(by_minor(here, package, "3.11")) == {"2.15"}  # ...so it is built for its oldest, 3.11
    assert any(d.torch == "2.15" and d.python == "3.10" and "no CPython 3.10 wheels" in d.reason for d in here.dropped)
    # torch's own reason: no older release is tried (and listed) in vain
    assert {(d.package, str(d.version)) for d in here.dropped if d.torch == "2.15"} == {
        ("causal-conv1d", "1.7.0"),
        ("mamba-ssm", "2.3.2.post1"),
    }
    assert len(here.include) == 2 * (12 + 2)
    assert all(s.archs == ("80", "90") and s.ptx == "90" for s in here.include)


def test_pypi_variant_is_pypis_own_torch_with_12_4_standing_in_out_loud() -> None:
    specs = by_minor(planned("pypi-here"), "causal-conv1d")
    facts = {m: (str(s.cuda), str(s.torch_cuda), s.cxx11_abi, s.cuda_stand_in_for) for m, s in specs.items()}
    assert facts["2.3"] == ("12.1", "12.1", False, None)  # built by 12.4: newer minor of the same major
    assert facts["2.5"] == ("12.4", "12.4", False, None)
    assert facts["2.7"] == ("12.4", "12.6", True, "12.6")
    assert facts["2.8"] == ("12.4", "12.8", True, "12.8")
    assert facts["2.10"] == ("12.4", "12.8", True, "12.8")
    assert facts["2.11"] == ("13.0", "13.0", True, None)
    assert all(s.torch_on_pypi and s.torch_stand_in_for is None for s in specs.values())
    stood = specs["2.8"]
    assert stood.id == "causal-conv1d-1.7.0-cu12.4-torch2.8-cp310-abi1"
    assert stood.to_json()["cuda_stand_in_for"] == "12.8" and stood.to_json()["archs_dropped"] == []
    assert BuildSpec.from_json(dict(stood.to_json())) == stood
    assert "cuda_stand_in_for" not in specs["2.11"].to_json()  # other tuples keep their input keys


def test_torch_floor_for_torch_2_6_and_older() -> None:
    specs = by_minor(planned("pypi-here"), "mamba-ssm")
    assert {m for m, s in specs.items() if s.platform == "manylinux_2_17_x86_64"} == {"2.3", "2.4", "2.5", "2.6"}
    assert all(s.accept_raised_floor and s.to_json()["accept_raised_floor"] for s in specs.values())
    cu13 = planned("cu13")  # profiles without glibc_floor = "torch" keep the build images' floor
    assert {s.platform for s in cu13.include} == {"manylinux_2_28_x86_64"}
    assert not any(s.accept_raised_floor for s in cu13.include)


def test_the_full_arch_list_is_capped_to_what_the_stand_in_compiles() -> None:
    text = (ROOT / "matrix.toml").read_text()
    matrix = load_matrix(ROOT / "matrix.toml")
    assert "[profiles.pypi-here]" in text
    data = {
        "matrix": {"torch": ">=2.3", "cuda_majors": [12]},
        "packages": [{"name": "causal-conv1d", "releases": "==1.7.0"}],
        "profiles": {"wide": {"torch": ["2.8"], "python": ["3.12"], "pypi_variant": True, "cuda_stand_in": ["12.4"]}},
    }
    wide = plan(parse_matrix(data), load_knowledge(), load_recipes(), "wide")
    (spec,) = wide.include
    assert (str(spec.cuda), spec.cuda_stand_in_for) == ("12.4", "12.8")
    assert spec.archs == ("75", "80", "87", "90") and spec.archs_dropped == ("100", "120") and spec.ptx == "90"
    without = dict(data, profiles={"wide": {"torch": ["2.8"], "python": ["3.12"], "pypi_variant": True}})
    (unchanged,) = plan(parse_matrix(without), load_knowledge(), load_recipes(), "wide").include
    assert str(unchanged.cuda) == "12.8" and unchanged.cuda_stand_in_for is None  # never silently
    assert matrix.profile("pypi").cuda_stand_in == (Version("12.4"),)


def test_guide_is_cuda_11_8_against_pypis_torch_2_3_in_the_cu11_channel() -> None:
    guide = planned("guide")
    assert {s.package for s in guide.include} == {"causal-conv1d", "mamba-ssm"}
    for s in guide.include:
        assert (str(s.cuda), s.torch_minor, s.python, s.cxx11_abi) == ("11.8", "2.3", "3.10", False)
        assert str(s.torch_cuda) == "12.1" and s.torch_on_pypi and s.torch_stand_in_for == f"{s.torch}+cu118"
        assert s.channel == "cu11" and s.platform == "manylinux_2_17_x86_64"
        assert s.torch_requirement == f"torch=={s.torch}" and s.torch_pin == "torch>=2.3,<2.4"


def test_a_release_shown_not_to_build_gives_way_to_the_next_older_per_minor() -> None:
    mamba = canonicalize_name("mamba-ssm")
    failing = PairResult(
        package=mamba, version=Version("2.3.2.post1"), torch="2.5", cuda=12, builds=False, report="r1",
        tuple_id="mamba-ssm-2.3.2.post1-cu12.4-torch2.5-cp310-abi0", cause="build/dependency-conflict",
        message="triton>=3.5.0 and torch==2.5.1 (triton==3.1.0) cannot both be installed",
    )  # fmt: skip
    here = planned("pypi-here", compat={failing.key: failing})
    specs = by_minor(here, "mamba-ssm")
    assert str(specs["2.5"].version) == "2.3.1"  # the next older release of the policy
    assert str(specs["2.6"].version) == "2.3.2.post1"  # other minors keep the newest
    assert any(d.torch == "2.5" and "dependency-conflict" in d.reason for d in here.dropped)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"torch_from_pypi": "sometimes"}, "torch_from_pypi"),
        ({"glibc_floor": "2.17"}, "glibc_floor"),
        ({"combos": [{"cuda": ["12.4"]}]}, "combos"),
    ],
)
def test_bad_profile_keys_are_refused(row: dict[str, object], message: str) -> None:
    data = {"matrix": {}, "packages": [{"name": "causal-conv1d", "releases": ">=1"}], "profiles": {"p": row}}
    with pytest.raises(Exception, match=message):
        parse_matrix(data)
