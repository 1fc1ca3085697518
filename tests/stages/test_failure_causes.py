"""Every failure cause of the contract, produced through `build_tuple` and read back from the stage's record.

The test is parametrized over `Cause` itself: a cause added to the enum without a scenario here fails.
Commands are answered by a scripted fake runner and PyPI by an httpx.MockTransport (tests/stages/fake_build).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from fake_build import FakeRunner, World, fail
from fake_build import Reply as R
from spec_builders import make_spec

import factory.run.pipeline
from factory.context import StageTimeouts
from factory.errors import FactoryError
from factory.plan.job import RenderedPatch
from factory.plan.spec import BuildSpec
from factory.run.matrix_run import run_matrix
from factory.run.pipeline import build_tuple
from index_server.contract import Cause, Outcome


@dataclass(frozen=True, kw_only=True)
class Scenario:
    stage: str  # whose record names the cause
    first_line: str  # the record's message contains this
    replies: dict[str, R] = field(default_factory=dict)
    world: dict[str, Any] = field(default_factory=dict)  # World fields that differ from the happy path
    skipped: bool = False  # the machine cannot build it (a SKIPPED outcome, not FAILED)


BAD_PATCH = RenderedPatch(
    name="arch-list", why="test", file="setup.py", find="cc_flag = []", replacement="x", count=1, regex=False
)

SCENARIOS: dict[Cause, Scenario] = {
    Cause.INTERPRETER_MISSING: Scenario(
        stage="provision", first_line="no CPython 3.11 found", world={"python_found": False}, skipped=True
    ),
    Cause.ENV_FAILED: Scenario(
        stage="provision", first_line="error: No virtualenv", replies={"venv": fail("error: No virtualenv for you")}
    ),
    Cause.TORCH_UNAVAILABLE: Scenario(
        stage="provision",
        first_line="cannot install torch==2.14.1 for CPython 3.11 from PyPI: error: no matching distribution",
        replies={"torch-install": fail("error: no matching distribution for torch==2.14.1")},
        skipped=True,
    ),
    Cause.TORCH_BROKEN: Scenario(
        stage="provision",
        first_line="torch does not import: ImportError: libcudnn.so.9",
        replies={"probe": fail("ImportError: libcudnn.so.9: cannot open shared object file")},
    ),
    Cause.TORCH_MISMATCH: Scenario(
        stage="provision",
        first_line="is built for CUDA 12.8, the tuple needs a CUDA 13.x torch",
        world={"torch_cuda": "12.8"},
    ),
    Cause.TOOLKIT_MISSING: Scenario(
        stage="provision",
        first_line="cannot assemble CUDA 13.0 from PyPI's NVIDIA wheels",
        replies={"toolkit-install": fail("error: nvidia-cuda-nvcc==13.0.* has no wheel for this platform")},
        skipped=True,
    ),
    Cause.TOOLKIT_BROKEN: Scenario(
        stage="provision",
        first_line="--version failed: nvcc: cannot execute",
        replies={"nvcc-version": fail("nvcc: cannot execute")},
    ),
    Cause.FETCH_FAILED: Scenario(
        stage="fetch", first_line="cannot read https://pypi.test/pypi/mamba-ssm/json", world={"api_status": 503}
    ),
    Cause.NO_SDIST: Scenario(
        stage="fetch", first_line="mamba-ssm has no release 2.3.2.post1 on PyPI", world={"releases": ("2.3.1",)}
    ),
    Cause.SDIST_DIGEST_MISMATCH: Scenario(
        stage="fetch",
        first_line=f"but PyPI publishes {'0' * 64}; not building it",
        world={"published_sha256": "0" * 64},
    ),
    Cause.BAD_SDIST: Scenario(
        stage="build", first_line="does not hold exactly one top-level folder", world={"sdist_tops": ("a-1", "b-1")}
    ),
    Cause.PATCH_FAILED: Scenario(
        stage="build",
        first_line="patch 'arch-list' expects 'cc_flag = []' at least 1x in setup.py, found 0x",
        world={"patches": (BAD_PATCH,)},
    ),
    Cause.COMPILER_ERROR: Scenario(
        stage="build",
        first_line='csrc/selective_scan.cu(42): error: identifier "foo" is undefined',
        replies={
            "pep517": fail('building...\ncsrc/selective_scan.cu(42): error: identifier "foo" is undefined\n1 error')
        },
    ),
    Cause.LINK_ERROR: Scenario(
        stage="build",
        first_line="undefined reference to `cudaLaunchKernelExC'",
        replies={"pep517": fail("g++ -shared x.o -o y.so\nx.o: undefined reference to `cudaLaunchKernelExC'")},
    ),
    Cause.BUILD_DEPENDENCY_MISSING: Scenario(
        stage="build",
        first_line="ModuleNotFoundError: No module named 'einops'",
        replies={"pep517": fail("Traceback (most recent call last):\nModuleNotFoundError: No module named 'einops'")},
    ),
    Cause.BUILD_FAILED: Scenario(
        stage="build", first_line="Killed", replies={"pep517": fail("running build_ext\nKilled", code=137)}
    ),
    Cause.NO_WHEEL: Scenario(
        stage="build", first_line="the build exited 0 but left 0 wheels", world={"wheel_left": False}
    ),
    Cause.REPAIR_REFUSED_FLOOR: Scenario(
        stage="repair",
        first_line='cannot repair "mamba_ssm.whl" to "manylinux_2_28_x86_64" ABI because of the presence of too-recent',
        replies={
            "auditwheel-repair": fail(
                'auditwheel: error: cannot repair "mamba_ssm.whl" to "manylinux_2_28_x86_64" ABI because of the '
                "presence of too-recent versioned symbols"
            )
        },
    ),
    Cause.REPAIR_EXTERNAL_LIBS: Scenario(
        stage="repair",
        first_line="external libraries not vendored: ['libgomp.so.1']",
        world={
            "show": {"sym_tag": "manylinux_2_28_x86_64", "external_libs": {"libgomp.so.1": "/usr/lib/libgomp.so.1"}}
        },
    ),
    Cause.REPAIR_FAILED: Scenario(
        stage="repair",
        first_line="patchelf: error: not an ELF",
        replies={"auditwheel-repair": fail("patchelf: error: not an ELF")},
    ),
    Cause.INSTALL_FAILED: Scenario(
        stage="verify",
        first_line="error: invalid wheel",
        replies={"install-wheel": fail("error: invalid wheel filename")},
    ),
    Cause.IMPORT_FAILED: Scenario(
        stage="verify",
        first_line="ImportError: selective_scan_cuda.so: undefined symbol: _ZN3c10",
        replies={"import-extension": fail("ImportError: selective_scan_cuda.so: undefined symbol: _ZN3c10")},
    ),
    Cause.DEPENDENCY_CONFLICT: Scenario(
        stage="verify",
        first_line="No solution found when resolving dependencies",
        replies={"install-deps": fail("x No solution found when resolving dependencies: transformers needs torch<2.9")},
    ),
    Cause.NUMERICS_FAILED: Scenario(
        stage="verify",
        first_line='{"case": "selective_scan", "rel_err": 0.3, "ok": false}',
        replies={"numerics": fail('{"case": "selective_scan", "rel_err": 0.3, "ok": false}')},
        world={"gpu_check": True},
    ),
    Cause.TIMEOUT: Scenario(
        stage="build", first_line="ran past its 10800 s limit", replies={"pep517": R(times_out=True)}
    ),
    Cause.INTERNAL_ERROR: Scenario(
        stage="repair",
        first_line="InvalidRequirement: Expected end of dependency specifier",
        world={"requires": ("einops", "triton (>=3.0) ; python_version >= '3.9' junk")},
    ),
}

# Causes a run gives a tuple after `build_tuple` has built it: produced through `run_matrix` (see the end).
RUN_CAUSES: dict[Cause, Callable[[Path], None]] = {}


def build(world: World, replies: dict[str, R]) -> tuple[Any, Any]:
    runner = FakeRunner(world, replies)
    result = build_tuple(world.job(), world.context(), world.root / "out", runner=runner, client=world.client())
    assert runner.unmatched == [], "a command the fake runner does not know: add its shape to fake_build.SHAPES"
    return result, runner


def record(result: Any, stage: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((result.log.parent / f"{stage}.json").read_text())
    return data


def test_every_cause_has_a_scenario() -> None:
    assert set(SCENARIOS) | set(RUN_CAUSES) == set(Cause), "each Cause needs a scenario that produces it"
    assert not set(SCENARIOS) & set(RUN_CAUSES)


@pytest.mark.parametrize("cause", list(Cause), ids=str)
def test_cause_is_produced_and_recorded(cause: Cause, tmp_path: Path) -> None:
    if cause in RUN_CAUSES:
        RUN_CAUSES[cause](tmp_path)  # read back from the run's report: publishing is not a build_tuple stage
        return
    scenario = SCENARIOS.get(cause)
    assert scenario is not None, f"no scenario produces {cause}: add one to SCENARIOS"
    result, _ = build(World(root=tmp_path, **scenario.world), scenario.replies)
    expected = Outcome.SKIPPED if scenario.skipped else Outcome.FAILED
    assert (result.outcome, result.stage, result.cause) == (expected, scenario.stage, cause)
    stage_record = record(result, scenario.stage)
    assert stage_record["outcome"] == expected and stage_record["cause"] == cause
    assert scenario.first_line in stage_record["message"], stage_record["message"]
    assert stage_record["message"] == result.message


def test_an_exception_between_stages_is_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The input key is computed after fetch and before build, in no stage: internal.json says so."""

    def boom(*args: object) -> None:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    monkeypatch.setattr(factory.run.pipeline, "finish", boom)
    result, _ = build(World(root=tmp_path), {})
    assert (result.outcome, result.stage, result.cause) == (Outcome.FAILED, "internal", Cause.INTERNAL_ERROR)
    internal = record(result, "internal")
    assert internal["cause"] == Cause.INTERNAL_ERROR
    assert internal["message"].startswith("UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff")
    assert record(result, "fetch")["outcome"] == Outcome.OK
    assert not (result.log.parent / "build.json").exists()


def test_the_happy_path_builds(tmp_path: Path) -> None:
    """The control: with no scenario the same world builds, so each failure above is the scenario's."""
    result, runner = build(World(root=tmp_path, gpu_check=True), {})
    assert result.outcome == Outcome.BUILT and result.cause is None
    assert result.wheel.name == "mamba_ssm-2.3.2.post1+cu.13.0.torch.2.14.abi.1-1-cp311-cp311-manylinux_2_28_x86_64.whl"
    assert {
        json.loads((result.log.parent / f"{s}.json").read_text())["outcome"]
        for s in ("provision", "fetch", "build", "repair", "verify")
    } == {"ok"}
    assert [s for s, _ in runner.calls].count("numerics") == 1


def test_each_command_gets_its_stages_time_limit(tmp_path: Path) -> None:
    world = World(root=tmp_path)
    limits = StageTimeouts(provision=11, build=22, repair=33, verify=44)
    runner = FakeRunner(world, {})
    ctx = replace(world.context(), timeouts=limits)
    result = build_tuple(world.job(), ctx, tmp_path / "out", runner=runner, client=world.client())
    assert result.outcome == Outcome.BUILT
    got = dict(runner.calls)
    assert got["torch-install"] == 11 and got["compiler-version"] == 11
    assert got["pep517"] == 22 and got["shim"] == 22
    assert got["auditwheel-repair"] == 33 and got["auditwheel-show"] == 33
    assert got["install-wheel"] == 44 and got["import-package"] == 44


class BuildTupleBuilder:
    """run_matrix's Builder over the real build_tuple, each tuple in its own scripted World."""

    def __init__(self, root: Path, worlds: dict[str, World], crash: str = "") -> None:
        self.root, self.worlds, self.crash = root, worlds, crash

    def input_key(self, spec: BuildSpec) -> str:
        raise FactoryError("not known before the build")  # run_matrix then builds and records the failure

    def build(self, spec: BuildSpec, on_stage: Callable[[str], None], build: int) -> Any:
        if spec.id == self.crash:
            raise KeyError("a builder bug outside build_tuple")
        world = self.worlds[spec.id]
        runner = FakeRunner(world, {})
        return build_tuple(
            world.job(),
            world.context(),
            self.root / "out",
            runner=runner,
            client=world.client(),
            on_stage=on_stage,
            build=build,
        )

    def retag(self, wheel: Path, build: int) -> Path:
        raise AssertionError("only a publish conflict retags, and this publisher has none")


class Publisher:
    def __init__(self, reject: str = "") -> None:
        self.reject = reject
        self.files: list[str] = []
        self.reports: list[dict[str, Any]] = []

    def published_builds(self) -> dict[str, list[Any]]:
        return {}

    def yank(self, filename: str, reason: str) -> None:
        raise AssertionError("nothing published before: nothing to yank")

    def publish(self, wheel: Path) -> str:
        if self.reject and self.reject in wheel.name:
            raise FactoryError(f"{wheel.name}: 400 the index refuses it: {self.reject}")
        self.files.append(wheel.name)
        return wheel.name

    def publish_report(self, report: dict[str, Any], logs: dict[str, Path]) -> None:
        self.reports.append(report)


class Quiet:
    def start(self, spec: BuildSpec) -> None: ...

    def stage(self, spec: BuildSpec, stage: str) -> None: ...

    def finish(self, spec: BuildSpec, outcome: Any) -> None: ...


def two_worlds(tmp_path: Path, **first: Any) -> dict[str, World]:
    """Two tuples (CPython 3.11 and 3.12), each with its own machine; `first` changes the 3.11 one."""
    a = World(root=tmp_path / "a", spec=make_spec(python="3.11"), **first)
    b = World(root=tmp_path / "b", spec=make_spec(python="3.12"))
    for w in (a, b):
        w.root.mkdir()
    return {a.spec.id: a, b.spec.id: b}


def run_two(tmp_path: Path, worlds: dict[str, World], pub: Publisher, crash: str = "") -> dict[str, dict[str, Any]]:
    builder = BuildTupleBuilder(tmp_path, worlds, crash)
    run_matrix([w.spec for w in worlds.values()], builder=builder, publisher=pub, progress=Quiet(), jobs=2)
    (data,) = pub.reports
    return {t["spec"]["python"]: t for t in data["tuples"]}


def publish_rejected(tmp_path: Path) -> None:
    pub = Publisher(reject="cp312")
    by_python = run_two(tmp_path, two_worlds(tmp_path), pub)
    rejected = by_python["3.12"]
    assert (rejected["outcome"], rejected["stage"], rejected["cause"]) == ("failed", "publish", Cause.PUBLISH_REJECTED)
    assert "400 the index refuses it: cp312" in rejected["message"]
    assert by_python["3.11"]["outcome"] == Outcome.PUBLISHED and len(pub.files) == 1


RUN_CAUSES[Cause.PUBLISH_REJECTED] = publish_rejected


def test_an_unexpected_exception_fails_only_its_tuple(tmp_path: Path) -> None:
    """An upstream METADATA line packaging cannot parse: that tuple fails, recorded; the other publishes."""
    worlds = two_worlds(tmp_path, requires=("einops", "triton (>=3.0) ; python_version >= '3.9' junk"))
    pub = Publisher()
    by_python = run_two(tmp_path, worlds, pub)
    broken = by_python["3.11"]
    assert (broken["outcome"], broken["stage"], broken["cause"]) == ("failed", "repair", Cause.INTERNAL_ERROR)
    assert broken["message"].startswith("InvalidRequirement: Expected end of dependency specifier")
    repair = json.loads((tmp_path / "out" / broken["id"] / "repair.json").read_text())
    assert repair["cause"] == Cause.INTERNAL_ERROR and repair["message"] == broken["message"]
    assert by_python["3.12"]["outcome"] == Outcome.PUBLISHED and pub.files == [by_python["3.12"]["wheel"]]


def test_a_builder_that_raises_fails_only_its_tuple(tmp_path: Path) -> None:
    worlds = two_worlds(tmp_path)
    crashing = next(iter(worlds))
    by_python = run_two(tmp_path, worlds, Publisher(), crash=crashing)
    assert by_python["3.11"]["cause"] == Cause.INTERNAL_ERROR
    assert by_python["3.11"]["message"] == "KeyError: 'a builder bug outside build_tuple'"
    assert by_python["3.12"]["outcome"] == Outcome.PUBLISHED
