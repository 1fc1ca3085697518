"""One tuple through provision → fetch → build → repair → verify, each stage recorded.

`build_tuple` never raises for a tuple's own failure: it returns a TupleResult saying which stage
stopped, the classified cause and the first error line. `compute_input_key` hashes everything a build
depends on, from the cached toolchain and sdist alone, so a run can skip tuples already published.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from factory import __version__
from factory.build import HOST_DEBUG_FLAG, build_wheel, gencode_flags, patches_digest
from factory.context import BuildContext
from factory.fetch import Sdist, fetch_sdist
from factory.process import Runner, SubprocessRunner
from factory.provision import Toolchain, provision
from factory.recipes import recipe_for
from factory.records import StageFailed, StageRecord, now_iso, sha256_file, write_record
from factory.repair import repair_wheel, torch_requires
from factory.spec import BuildSpec
from factory.verify import verify_wheel
from index_server.contract import Cause, Outcome


@dataclass(frozen=True, kw_only=True)
class TupleResult:
    spec: BuildSpec
    outcome: Outcome  # BUILT, FAILED or SKIPPED
    stage: str | None
    cause: Cause | None
    message: str | None
    wheel: Path | None
    log: Path
    input_key: str | None
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.spec.id,
            "outcome": self.outcome,
            "stage": self.stage,
            "cause": self.cause,
            "message": self.message,
            "wheel": str(self.wheel) if self.wheel else None,
            "log": str(self.log),
            "input_key": self.input_key,
            "seconds": round(self.seconds, 1),
        }


def input_key_of(spec: BuildSpec, ctx: BuildContext, toolchain: Toolchain, sdist: Sdist, compiler: str) -> str:
    recipe = recipe_for(ctx.recipes, spec.package)
    patches = recipe.patches_for(spec)
    inputs = {
        "spec": spec.to_json(),
        "sdist_sha256": sdist.sha256,
        "patches": patches_digest(patches, spec),
        "switches": recipe.build_env(spec),
        "gencode": gencode_flags(spec),
        "host_flags": HOST_DEBUG_FLAG,
        "nvcc": toolchain.nvcc_version,
        "torch": toolchain.torch_version,
        "compiler": compiler,
        "verify": {"dependencies": ctx.verify_dependencies, "modules": list(recipe.import_modules)},
        "factory": __version__,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def compiler_version(ctx: BuildContext, runner: Runner, log: Path) -> str:
    done = runner(["c++", "--version"], env=dict(ctx.base_env), cwd=None, log=log)
    return done.output.strip().splitlines()[0] if done.ok and done.output.strip() else "unknown"


def compute_input_key(
    spec: BuildSpec,
    ctx: BuildContext,
    out_dir: Path,
    runner: Runner | None = None,
    client: httpx.Client | None = None,
) -> str:
    runner = runner or SubprocessRunner()
    log = out_dir / spec.id / "inputs.log"  # not build.log: a skipped tuple keeps its build's log
    toolchain = provision(spec, ctx, runner, log)
    with client or httpx.Client(timeout=60) as http:
        sdist = fetch_sdist(spec, ctx, http)
    return input_key_of(spec, ctx, toolchain, sdist, compiler_version(ctx, runner, log))


def build_tuple(
    spec: BuildSpec,
    ctx: BuildContext,
    out_dir: Path,
    *,
    runner: Runner | None = None,
    client: httpx.Client | None = None,
    on_stage: Callable[[str], None] = lambda stage: None,
) -> TupleResult:
    runner = runner or SubprocessRunner()
    tuple_dir = out_dir / spec.id
    tuple_dir.mkdir(parents=True, exist_ok=True)
    log = tuple_dir / "build.log"
    log.write_text(f"# {spec.id}\n")
    began = time.monotonic()
    state: dict[str, Any] = {"key": None}

    def stage(name: str, inputs: dict[str, Any], work: Callable[[], tuple[Any, dict[str, Any]]]) -> Any:
        on_stage(name)
        with log.open("a") as out:
            out.write(f"\n=== {name} ===\n")
        started, t0 = now_iso(), time.monotonic()
        try:
            value, outputs = work()
        except StageFailed as err:
            outcome = Outcome.SKIPPED if err.skipped else Outcome.FAILED
            write_record(
                tuple_dir,
                StageRecord(
                    spec_id=spec.id,
                    stage=name,
                    outcome=outcome,
                    started=started,
                    seconds=time.monotonic() - t0,
                    inputs=inputs,
                    cause=err.cause,
                    message=err.message,
                ),
            )
            raise
        write_record(
            tuple_dir,
            StageRecord(
                spec_id=spec.id,
                stage=name,
                outcome=Outcome.OK,
                started=started,
                seconds=time.monotonic() - t0,
                inputs=inputs,
                outputs=outputs,
            ),
        )
        return value

    try:
        recipe = recipe_for(ctx.recipes, spec.package)
        toolchain: Toolchain = stage(
            "provision",
            {"spec": spec.to_json()},
            lambda: _pair(provision(spec, ctx, runner, log), lambda t: t.describe()),
        )
        with client or httpx.Client(timeout=120) as http:
            sdist: Sdist = stage(
                "fetch",
                {"package": str(spec.package), "version": str(spec.version)},
                lambda: _pair(fetch_sdist(spec, ctx, http), lambda s: s.describe()),
            )
        compiler = compiler_version(ctx, runner, log)
        state["key"] = input_key_of(spec, ctx, toolchain, sdist, compiler)
        built = stage(
            "build",
            {"sdist": sdist.describe(), "toolchain": toolchain.describe()},
            lambda: _pair(
                build_wheel(spec, ctx, recipe, toolchain, sdist, tuple_dir, runner, log),
                lambda b: {
                    "wheel": str(b.path),
                    "sha256": sha256_file(b.path),
                    "patches": b.patches,
                    "flags": b.flags,
                },
            ),
        )
        provenance = {
            "spec": spec.to_json(),
            "input_key": state["key"],
            "sdist": sdist.describe(),
            "recipe": {"package": str(recipe.package), "switches": recipe.build_env(spec)},
            "patches": built.patches,
            "toolkit": {"cuda_home": str(toolchain.cuda_home), "nvcc": toolchain.nvcc_version},
            "compiler": compiler,
            "torch": {
                "version": toolchain.torch_version,
                "cuda": toolchain.torch_cuda,
                "cxx11_abi": toolchain.cxx11_abi,
            },
            "flags": built.flags,
        }
        repaired = stage(
            "repair",
            {"wheel": str(built.path)},
            lambda: _pair(
                repair_wheel(
                    spec, ctx, recipe, built.path, torch_requires(toolchain.env), provenance, tuple_dir, runner, log
                ),
                lambda r: {
                    "wheel": str(r.path),
                    "sha256": sha256_file(r.path),
                    "tags": list(r.platform_tags),
                    "sym_tag": r.sym_tag,
                    "dependency_changes": r.dependency_changes,
                },
            ),
        )
        stage(
            "verify",
            {"wheel": str(repaired.path)},
            lambda: _pair(
                None,
                lambda _: verify_wheel(spec, ctx, recipe, toolchain, repaired.path, tuple_dir, runner, log),
            ),
        )
    except StageFailed as err:
        return TupleResult(
            spec=spec,
            outcome=Outcome.SKIPPED if err.skipped else Outcome.FAILED,
            stage=err.stage,
            cause=err.cause,
            message=err.message,
            wheel=None,
            log=log,
            input_key=state["key"],
            seconds=time.monotonic() - began,
        )
    return TupleResult(
        spec=spec,
        outcome=Outcome.BUILT,
        stage="verify",
        cause=None,
        message=None,
        wheel=repaired.path,
        log=log,
        input_key=state["key"],
        seconds=time.monotonic() - began,
    )


def _pair(value: Any, describe: Callable[[Any], dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
    return value, describe(value)
