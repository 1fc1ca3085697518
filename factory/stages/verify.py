"""verify: install the repaired wheel beside the tuple's torch in a fresh env and import it.

First the compiled extension with nothing but torch (the upstream "did it build" test), then the
top-level package with its declared dependencies resolved from the index (torch held fixed), then, on a
machine with a GPU, the kernels against the packages' own reference implementations.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from factory.context import BuildContext
from factory.plan.job import Job
from factory.process import Runner
from factory.stages.provision import Toolchain
from factory.stages.records import StageFailed
from factory.stages.uv_envs import install_torch_env, uv_env, uv_index_args
from index_server.contract import Cause


def import_snippet(modules: tuple[str, ...]) -> str:
    imports = "; ".join(f"import {m}" for m in modules)
    names = ", ".join(repr(m) for m in modules)
    return f"import torch; {imports}; print('imported', {names}, 'with torch', torch.__version__)"


def verify_wheel(
    job: Job,
    ctx: BuildContext,
    toolchain: Toolchain,
    wheel: Path,
    tuple_dir: Path,
    runner: Runner,
    log: Path,
) -> dict[str, object]:
    spec = job.spec
    venv = tuple_dir / "verify-env"
    if venv.exists():
        shutil.rmtree(venv)
    try:
        python = install_torch_env(venv, toolchain.interpreter, spec, ctx, runner, log)
    except StageFailed as err:
        raise StageFailed("verify", err.cause, err.message) from err
    env = uv_env(ctx)
    checks: dict[str, object] = {}
    try:
        put = runner([ctx.uv, "pip", "install", "--python", python, "--no-deps", wheel], env=env, cwd=None, log=log)
        if not put.ok:
            raise StageFailed("verify", Cause.INSTALL_FAILED, put.summary())
        ext = runner([python, "-c", import_snippet(job.import_modules)], env=dict(ctx.base_env), cwd=venv, log=log)
        if not ext.ok:
            raise StageFailed("verify", Cause.IMPORT_FAILED, ext.summary())
        checks["extension_import"] = list(job.import_modules)
        if ctx.verify_dependencies:
            constraints = venv / "constraints.txt"
            constraints.write_text(spec.torch_requirement + "\n")
            argv = [
                ctx.uv,
                "pip",
                "install",
                "--python",
                python,
                *uv_index_args(ctx),
                "--constraint",
                constraints,
                wheel,
            ]
            deps = runner(argv, env=env, cwd=None, log=log)
            if not deps.ok:
                raise StageFailed("verify", Cause.DEPENDENCY_CONFLICT, deps.summary())
            top = runner([python, "-c", import_snippet((job.top_level,))], env=dict(ctx.base_env), cwd=venv, log=log)
            if not top.ok:
                raise StageFailed("verify", Cause.IMPORT_FAILED, top.summary())
            checks["package_import"] = job.top_level
        if ctx.gpu_check:
            script = Path(str(resources.files("factory").joinpath("data/gpu_numerics.py")))
            numerics = runner([python, script, str(spec.package)], env=dict(ctx.base_env), cwd=venv, log=log)
            if not numerics.ok:
                raise StageFailed("verify", Cause.NUMERICS_FAILED, numerics.summary())
            checks["gpu_numerics"] = numerics.output.strip().splitlines()
    finally:
        shutil.rmtree(venv, ignore_errors=True)
    return checks
