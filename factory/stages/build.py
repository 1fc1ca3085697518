"""build: the job's patched sources built with PEP 517 (`python -m build --no-isolation`).

The sources of one (package, version, CUDA, torch, ABI) are unpacked and patched once, at a path that
does not depend on the Python version, and every compile goes through ccache with torch's headers at a
shared path: the device code (.cu files include no Python headers) is then compiled once and reused by
the builds for the other Pythons.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from factory.context import BuildContext
from factory.plan.job import Job
from factory.process import Runner
from factory.stages.build_cache import ccache_masquerade, prepare_floor_shim, prepare_shim, shared_torch_include
from factory.stages.build_env import build_env, recorded_flags
from factory.stages.build_log import classify_failure
from factory.stages.deps_check import check_dependencies
from factory.stages.fetch import Sdist
from factory.stages.provision import Toolchain
from factory.stages.records import StageFailed
from factory.stages.sources import patched_source
from factory.stages.verify import missing_extensions
from index_server.contract import Cause


@dataclass(frozen=True, kw_only=True)
class BuiltWheel:
    path: Path
    source: Path
    patches: list[dict[str, object]]
    flags: dict[str, str]


def pep517_argv(python: Path, source: Path, outdir: Path) -> list[str | Path]:
    """The build's command: the env's own build tools, no isolation, no dependency check."""
    return [python, "-m", "build", "--wheel", "--no-isolation", "--skip-dependency-check", "--outdir", outdir, source]


def build_wheel(
    job: Job,
    ctx: BuildContext,
    toolchain: Toolchain,
    sdist: Sdist,
    tuple_dir: Path,
    runner: Runner,
    log: Path,
) -> BuiltWheel:
    shims = [prepare_shim(ctx, runner, log), prepare_floor_shim(ctx, toolchain, runner, log)]
    masquerade = ccache_masquerade(ctx)
    torch_include = shared_torch_include(toolchain, ctx)
    dist = tuple_dir / "dist"
    if dist.exists():
        shutil.rmtree(dist)
    env = build_env(job, ctx, toolchain, shims, torch_include, masquerade)
    with patched_source(job, ctx, sdist) as tree:
        check_dependencies(job, ctx, toolchain, tree.path, tuple_dir / "deps-check", runner, log)
        done = runner(pep517_argv(toolchain.python, tree.path, dist), env=env, cwd=tree.path, log=log)
    if not done.ok:
        cause, line = classify_failure(done.output)
        raise StageFailed("build", cause, line.replace(f"{tree.path}/", ""))
    wheels = list(dist.glob("*.whl"))
    if len(wheels) != 1:
        raise StageFailed("build", Cause.NO_WHEEL, f"the build exited 0 but left {len(wheels)} wheels in {dist}")
    missing = missing_extensions(wheels[0], job.import_modules)
    if missing:
        raise StageFailed(
            "build",
            Cause.NO_WHEEL,
            f"the build made {wheels[0].name} without its compiled {', '.join(missing)}: upstream's setup.py "
            "skipped the extension (a switch it now needs unset? see the recipe's switches)",
        )
    return BuiltWheel(path=wheels[0], source=tree.path, patches=tree.patches, flags=recorded_flags(job, env))
