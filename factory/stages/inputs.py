"""What a tuple's build depends on, as declared, and the input key it hashes to.

The key holds only what the plan and the recipe declare (the spec: package, release, CUDA and torch as
planned, ABI, floor, archs; the sdist's sha256; the rendered patches; upstream switches, -gencode and
host flags) plus WHEEL_FORMAT_VERSION. The toolchain actually found (nvcc's build, the host compiler)
goes into provenance, not into the key, so CI's image toolchain and the local one give the same key.
Computing it provisions nothing and downloads nothing: the sdist's sha256 is PyPI's published digest.

`prepare` provisions and fetches (both cached) for the build that follows.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import httpx

from factory.context import BuildContext
from factory.plan.job import Job
from factory.process import Runner
from factory.stages.fetch import Sdist, fetch_sdist
from factory.stages.provision import Toolchain, provision
from factory.stages.repair_plan import WHEEL_FORMAT_VERSION


@dataclass(frozen=True, kw_only=True)
class Prepared:
    toolchain: Toolchain
    sdist: Sdist
    compiler: str  # the host compiler's version line
    input_key: str


def declared_inputs(job: Job, sdist_sha256: str) -> dict[str, object]:
    """Everything the key hashes, readable (also stored beside the key in factory_build.json)."""
    return {
        "spec": job.spec.to_json(),
        "sdist_sha256": sdist_sha256,
        "patches": job.patches_digest,
        "switches": job.switches,
        "gencode": list(job.gencode),
        "host_flags": job.host_flags,
        "wheel_format": WHEEL_FORMAT_VERSION,
    }


def input_key_of(job: Job, sdist_sha256: str) -> str:
    text = json.dumps(declared_inputs(job, sdist_sha256), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def compiler_version(ctx: BuildContext, runner: Runner, log: Path) -> str:
    done = runner(["c++", "--version"], env=dict(ctx.base_env), cwd=None, log=log)
    return done.output.strip().splitlines()[0] if done.ok and done.output.strip() else "unknown"


def finish(job: Job, ctx: BuildContext, toolchain: Toolchain, sdist: Sdist, runner: Runner, log: Path) -> Prepared:
    """The Prepared of a provisioned and fetched tuple: its compiler read, its key computed."""
    return Prepared(
        toolchain=toolchain, sdist=sdist, compiler=toolchain.host_compiler, input_key=input_key_of(job, sdist.sha256)
    )


def prepare(job: Job, ctx: BuildContext, runner: Runner, http: httpx.Client, log: Path) -> Prepared:
    toolchain = provision(job.spec, ctx, runner, log)
    sdist = fetch_sdist(job.spec, ctx, http)
    return finish(job, ctx, toolchain, sdist, runner, log)
