"""verify: install the repaired wheel beside the tuple's torch in a fresh env and import it.

First the compiled extension with nothing but torch (the upstream "did it build" test), then the
top-level package with its declared dependencies resolved from the index (torch held fixed), then, on a
machine with a GPU, the kernels against the packages' own reference implementations.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TypeVar

from factory.context import BuildContext
from factory.plan.job import Job
from factory.plan.toolkits import load_toolkits
from factory.process import Runner
from factory.stages.provision import Toolchain
from factory.stages.records import StageFailed
from factory.stages.uv_envs import install_torch_env, uv_env, uv_index_args
from index_server.contract import Cause

# What triton 3.2 and 3.3 raise when a module decorated with @triton.autotune is imported on a machine with no GPU:
# their Autotuner asks for the active driver at decoration time (torch 2.5's 3.1 and 2.8's 3.4 import here).
TRITON_NO_DRIVER = "0 active drivers"

# For the import only: a triton driver that answers the autotuner's question at decoration time with a
# benchmarker that refuses to run, and refuses everything else, so the package's modules still load on a
# build machine without a GPU.
_TRITON_STAND_IN = """
import triton
from triton.runtime import driver as _driver
class _NoGpuDriver:
    def _refuse(self, *args, **kwargs):
        raise RuntimeError("no GPU on this build machine: triton's driver was stood in for the import only")
    def get_benchmarker(self):
        return self._refuse
    def __getattr__(self, name):
        self._refuse()
_driver.set_active(_NoGpuDriver())
"""


def import_snippet(modules: tuple[str, ...], guard_cuda: str | None = None, triton_stand_in: bool = False) -> str:
    """Import with every undefined symbol bound at load (RTLD_NOW), so an import proves they all resolve.
    `guard_cuda`: the CUDA version torch reports to the package's import guard (see verify_wheel).
    `triton_stand_in`: triton's GPU driver stood in (see TRITON_NO_DRIVER); the last line then ends with
    triton's version."""
    told = f"torch.version.cuda = {guard_cuda!r}\n" if guard_cuda else ""
    stand_in = _TRITON_STAND_IN if triton_stand_in else "\n"
    imports = "".join(f"import {m}\n" for m in modules)
    names = ", ".join(repr(m) for m in modules)
    triton = ", 'beside a stand-in driver of triton', triton.__version__" if triton_stand_in else ""
    return (
        f"import os, sys; sys.setdlopenflags(os.RTLD_NOW)\nimport torch\n{told}{stand_in}{imports}"
        f"print('imported', {names}, 'with torch', torch.__version__{triton})"
    )


Ran = TypeVar("Ran")


def import_beside_triton(
    run_snippet: Callable[[str], Ran],
    failure_text: Callable[[Ran], str],
    modules: tuple[str, ...],
    guard_cuda: str | None = None,
    may_stand_in: bool = True,
) -> tuple[Ran, bool]:
    """Run the import snippet of `modules`; where it failed only because triton 3.2/3.3 asked for a GPU
    driver (TRITON_NO_DRIVER) and `may_stand_in`, run it once more with the driver stood in. The last
    run's result, and whether the driver was stood in. `failure_text`: a failed run's output, "" if it ran."""
    result = run_snippet(import_snippet(modules, guard_cuda))
    if not may_stand_in or TRITON_NO_DRIVER not in failure_text(result):
        return result, False
    return run_snippet(import_snippet(modules, guard_cuda, triton_stand_in=True)), True


def missing_extensions(wheel: Path, modules: tuple[str, ...]) -> list[str]:
    """The compiled extension modules (`selective_scan_cuda`) the wheel holds no shared object of."""
    with zipfile.ZipFile(wheel) as zf:
        objects = [n.rsplit("/", 1)[-1] for n in zf.namelist() if n.endswith(".so")]
    return [m for m in modules if not any(o.startswith(f"{m}.") for o in objects)]


def other_major_runtime(job: Job) -> str | None:
    """For a tuple built against a torch of another CUDA major (the guide's 2.3+cu118 against PyPI's cu121
    torch), the PyPI runtime of the tuple's own CUDA the extension links (nvidia-cuda-runtime-cu11==...)."""
    spec = job.spec
    if spec.torch_cuda.major == spec.cuda.major:
        return None
    source = load_toolkits().exact(f"{spec.cuda.major}.{spec.cuda.minor}")
    runtimes = [w for w in (source.wheels if source else ()) if w.startswith("nvidia-cuda-runtime")]
    return runtimes[0] if runtimes else f"nvidia-cuda-runtime-cu{spec.cuda.major}"


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
    missing = missing_extensions(wheel, job.import_modules)
    if missing:
        raise StageFailed(
            "verify",
            Cause.IMPORT_FAILED,
            f"{wheel.name} holds no compiled {', '.join(missing)}: upstream's build skipped its extension (a "
            "switch it now needs unset? see the recipe's switches); a wheel without its kernels is never published",
        )
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
        runtime = other_major_runtime(job)
        run_env = dict(ctx.base_env)
        if runtime is not None:
            lib = _install_runtime(runtime, python, venv, ctx, runner, log)
            run_env["LD_LIBRARY_PATH"] = ":".join(filter(None, [str(lib), run_env.get("LD_LIBRARY_PATH")]))
            checks["against"] = (
                f"PyPI's torch {spec.torch} (CUDA {spec.torch_cuda}) standing in for {spec.torch_stand_in_for}, "
                f"and {runtime}: every symbol resolved at load; not import-tested against its exact torch"
            )
        ext = runner([python, "-c", import_snippet(job.import_modules)], env=run_env, cwd=venv, log=log)
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
            checks["dependencies"] = "installed beside torch"
            # The package's Python code against the torch release (causal-conv1d 1.7.0 calls
            # torch.library.custom_op, which torch 2.3 lacks). Beside a stand-in torch of another CUDA major,
            # the import guard rightly refuses it, so torch tells the guard the wheel's own CUDA; the
            # extension itself already loaded against the real one above.
            told = str(spec.cuda) if runtime is not None else None
            # triton 3.2/3.3 (torch 2.6/2.7) cannot import an autotuned module without a GPU; on a user's GPU
            # machine it can. Without one here, the import is tried again with its driver stood in, and said.
            top, stood_in = import_beside_triton(
                lambda snippet: runner([python, "-c", snippet], env=run_env, cwd=venv, log=log),
                lambda ran: "" if ran.ok else ran.output,
                (job.top_level,),
                told,
                may_stand_in=not ctx.gpu_check,
            )
            said = f" (torch's CUDA {spec.torch_cuda} told to the import guard as {told})" if told else ""
            if stood_in:
                said_lines = [line for line in top.output.splitlines() if line.startswith("imported ")]
                version = said_lines[-1].rsplit(" ", 1)[-1] if top.ok and said_lines else "?"
                said += (
                    f" (no GPU here, and triton {version} asks for its GPU driver when an autotuned kernel is "
                    "defined: a stand-in driver answered, for the import only)"
                )
            if not top.ok:
                raise StageFailed("verify", Cause.IMPORT_FAILED, top.summary())
            checks["package_import"] = job.top_level + said
        if ctx.gpu_check:
            script = Path(str(resources.files("factory").joinpath("data/gpu_numerics.py")))
            numerics = runner([python, script, str(spec.package)], env=dict(ctx.base_env), cwd=venv, log=log)
            if not numerics.ok:
                raise StageFailed("verify", Cause.NUMERICS_FAILED, numerics.summary())
            checks["gpu_numerics"] = numerics.output.strip().splitlines()
    finally:
        shutil.rmtree(venv, ignore_errors=True)
    return checks


def _install_runtime(requirement: str, python: Path, venv: Path, ctx: BuildContext, runner: Runner, log: Path) -> Path:
    """Install a CUDA runtime wheel into the verify env; the folder holding its libcudart."""
    argv = [ctx.uv, "pip", "install", "--python", python, *uv_index_args(ctx), requirement]
    done = runner(argv, env=uv_env(ctx), cwd=None, log=log)
    if not done.ok:
        raise StageFailed("verify", Cause.INSTALL_FAILED, f"cannot install {requirement}: {done.summary()}")
    found = sorted(venv.glob("lib/python*/site-packages/nvidia/cuda_runtime/lib"))
    if not found:
        raise StageFailed("verify", Cause.INSTALL_FAILED, f"{requirement} holds no nvidia/cuda_runtime/lib")
    return found[0]
