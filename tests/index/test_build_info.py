"""factory_build.json's check is read off contract.BuildInfo: every annotation there is one the checker
understands, and a field added to a TypedDict is checked with no edit to the checker."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict, get_type_hints

from index_server.admit.build_info import supported, type_errors
from index_server.contract import BuildInfo, Outcome, SpecInfo


def test_every_annotation_of_the_contract_is_understood() -> None:
    for typed_dict in (BuildInfo, SpecInfo):
        for key, hint in get_type_hints(typed_dict, include_extras=True).items():
            assert supported(hint), f"{typed_dict.__name__}.{key}: {hint} is not checked by admit/build_info.py"


class _Archs(TypedDict):
    sass: list[str]
    ptx: str | None


class _Newer(TypedDict, total=False):
    """What a newer contract might declare (archs read from the binary, a stand-in, a raised floor)."""

    wheel_archs: _Archs
    toolkit_stand_in: NotRequired[str]
    glibc_floor: dict[str, int | str]
    outcome: Outcome
    kind: Literal["sass", "ptx"]
    weights: list[float]


def test_a_new_field_is_checked_by_its_declared_type() -> None:
    good: dict[str, Any] = {
        "wheel_archs": {"sass": ["sm_90"], "ptx": None},
        "toolkit_stand_in": "12.4",
        "glibc_floor": {"major": 2, "symbol": "GLIBC_2.32"},
        "outcome": "ok",
        "kind": "ptx",
        "weights": [1, 2.5],
        "undeclared": {"kept": True},
    }
    assert supported(_Newer) and type_errors(good, _Newer, "r") == []
    bad = {
        "wheel_archs": {"sass": "sm_90"},
        "toolkit_stand_in": 12.4,
        "glibc_floor": {"major": [2]},
        "outcome": "great",
        "kind": "cubin",
        "weights": [True],
    }
    errors = type_errors(bad, _Newer, "r")
    assert errors == [
        "r.wheel_archs.ptx is missing",
        "r.wheel_archs.sass must be a list, not 'sm_90'",
        "r.toolkit_stand_in must be a string, not '12.4'",
        "r.glibc_floor.major must be a number (int), not '[2]'",
        "r.outcome must be one of ['ok', 'built', 'published', 'unchanged', 'failed', 'skipped'], not 'great'",
        "r.kind must be one of ['sass', 'ptx'], not 'cubin'",
        "r.weights[0] must be a number (float), not 'True'",
    ]
