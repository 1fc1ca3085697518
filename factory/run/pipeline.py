"""One tuple through provision → fetch → build → repair → verify, each stage recorded.

`build_tuple` never raises for a tuple's own failure: it returns a TupleResult saying which stage
stopped, the classified cause and the first error line. `compute_input_key` hashes the tuple's declared
inputs (factory.stages.inputs) without provisioning or downloading anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from factory.context import BuildContext
from factory.plan.job import Job
from factory.plan.spec import BuildSpec
from factory.process import Runner, SubprocessRunner, stage_limited
from factory.run.recorder import StageRecorder
from factory.stages.build import build_wheel
from factory.stages.fetch import fetch_sdist, sdist_sha256
from factory.stages.inputs import Prepared, finish, input_key_of
from factory.stages.provenance import provenance
from factory.stages.provision import provision
from factory.stages.records import StageFailed, sha256_file
from factory.stages.repair import repair_wheel
from factory.stages.sources import sdist_epoch
from factory.stages.verify import verify_wheel
from factory.stages.wheel_metadata import torch_requires
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


def compute_input_key(job: Job, ctx: BuildContext, client: httpx.Client | None = None) -> str:
    """The job's input key from its declared inputs: provisions nothing, downloads no sdist (PyPI's
    JSON API gives its sha256); raises StageFailed when that digest cannot be read."""
    if client is not None:  # the caller's client stays open
        return input_key_of(job, sdist_sha256(job.spec, ctx, client))
    with httpx.Client(timeout=60) as http:
        return input_key_of(job, sdist_sha256(job.spec, ctx, http))


def build_tuple(
    job: Job,
    ctx: BuildContext,
    out_dir: Path,
    *,
    runner: Runner | None = None,
    client: httpx.Client | None = None,
    on_stage: Callable[[str], None] = lambda stage: None,
    prepared: Prepared | None = None,
    build: int = 1,
) -> TupleResult:
    """`prepared`: a provisioned toolchain and fetched sdist to use as they are; `build`: the PEP 427
    build number the wheel gets (factory.run.builds.next_build decides it from the index)."""
    spec = job.spec
    tuple_dir = out_dir / spec.id
    tuple_dir.mkdir(parents=True, exist_ok=True)
    log = tuple_dir / "build.log"
    log.write_text(f"# {spec.id}\n")
    began = time.monotonic()
    stage = StageRecorder(spec.id, tuple_dir, log, on_stage)
    run = stage_limited(runner or SubprocessRunner(), ctx.timeouts, stage)  # each command: its stage's limit
    key: str | None = prepared.input_key if prepared else None
    try:
        toolchain = stage(
            "provision",
            {"spec": spec.to_json()},
            lambda: prepared.toolchain if prepared else provision(spec, ctx, run, log),
            lambda t: t.describe(),
        )
        with client or httpx.Client(timeout=120) as http:
            sdist = stage(
                "fetch",
                {"package": str(spec.package), "version": str(spec.version)},
                lambda: prepared.sdist if prepared else fetch_sdist(spec, ctx, http),
                lambda s: s.describe(),
            )
        ready = prepared or finish(job, ctx, toolchain, sdist, run, log)
        key = ready.input_key
        built = stage(
            "build",
            {"sdist": sdist.describe(), "toolchain": toolchain.describe()},
            lambda: build_wheel(job, ctx, toolchain, sdist, tuple_dir, run, log),
            lambda b: {"wheel": str(b.path), "sha256": sha256_file(b.path), "patches": b.patches, "flags": b.flags},
        )
        repaired = stage(
            "repair",
            {"wheel": str(built.path)},
            lambda: repair_wheel(
                job,
                ctx,
                built.path,
                torch_requires(toolchain.env),
                provenance(job, ready, built, sha256_file(built.path)),
                tuple_dir,
                run,
                log,
                build=build,
                epoch=sdist_epoch(sdist.path),
            ),
            lambda r: {
                "wheel": str(r.path),
                "sha256": sha256_file(r.path),
                "tags": list(r.platform_tags),
                "sym_tag": r.sym_tag,
                "dependency_changes": r.dependency_changes,
            },
        )
        stage(
            "verify",
            {"wheel": str(repaired.path)},
            lambda: verify_wheel(job, ctx, toolchain, repaired.path, tuple_dir, run, log),
            lambda checks: checks,
        )
    except Exception as caught:  # a stage's failure (recorded), or a bug between stages (recorded here)
        err = caught if isinstance(caught, StageFailed) else stage.between_stages(caught)
        return TupleResult(
            spec=spec,
            outcome=Outcome.SKIPPED if err.skipped else Outcome.FAILED,
            stage=err.stage,
            cause=err.cause,
            message=err.message,
            wheel=None,
            log=log,
            input_key=key,
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
        input_key=key,
        seconds=time.monotonic() - began,
    )
