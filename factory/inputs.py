"""What a tuple's build depends on: its toolchain, sdist and compiler, found once, and the key they hash to.

`prepare` provisions and fetches (both cached), so `factory run` can compute the input key, skip a tuple
already published, and hand the same Prepared to the build instead of provisioning again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import httpx

from factory import __version__
from factory.context import BuildContext
from factory.fetch import Sdist, fetch_sdist
from factory.job import Job
from factory.process import Runner
from factory.provision import Toolchain, provision


@dataclass(frozen=True, kw_only=True)
class Prepared:
    toolchain: Toolchain
    sdist: Sdist
    compiler: str  # the host compiler's version line
    input_key: str


def input_key_of(job: Job, ctx: BuildContext, toolchain: Toolchain, sdist: Sdist, compiler: str) -> str:
    inputs = {
        "spec": job.spec.to_json(),
        "sdist_sha256": sdist.sha256,
        "patches": job.patches_digest,
        "switches": job.switches,
        "gencode": list(job.gencode),
        "host_flags": job.host_flags,
        "nvcc": toolchain.nvcc_version,
        "torch": toolchain.torch_version,
        "compiler": compiler,
        "verify": {"dependencies": ctx.verify_dependencies, "modules": list(job.import_modules)},
        "factory": __version__,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def compiler_version(ctx: BuildContext, runner: Runner, log: Path) -> str:
    done = runner(["c++", "--version"], env=dict(ctx.base_env), cwd=None, log=log)
    return done.output.strip().splitlines()[0] if done.ok and done.output.strip() else "unknown"


def finish(job: Job, ctx: BuildContext, toolchain: Toolchain, sdist: Sdist, runner: Runner, log: Path) -> Prepared:
    """The Prepared of a provisioned and fetched tuple: its compiler read, its key computed."""
    compiler = compiler_version(ctx, runner, log)
    key = input_key_of(job, ctx, toolchain, sdist, compiler)
    return Prepared(toolchain=toolchain, sdist=sdist, compiler=compiler, input_key=key)


def prepare(job: Job, ctx: BuildContext, runner: Runner, http: httpx.Client, log: Path) -> Prepared:
    toolchain = provision(job.spec, ctx, runner, log)
    sdist = fetch_sdist(job.spec, ctx, http)
    return finish(job, ctx, toolchain, sdist, runner, log)
