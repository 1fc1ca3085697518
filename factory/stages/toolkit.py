"""The CUDA toolkit of a tuple: CUDA 13 assembled from PyPI's NVIDIA wheels, CUDA 11/12 found on the machine.

CUDA 11/12 wheels hold only ptxas, so those tuples need a toolkit on the machine, else they are skipped
with what to install.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from packaging.version import Version

from factory.context import BuildContext
from factory.locks import locked
from factory.process import Runner
from factory.stages.records import StageFailed
from factory.stages.uv_envs import uv_env, uv_index_args
from index_server.contract import Cause

# PyPI wheels that make up a CUDA 13 toolkit able to build torch extensions.
CUDA_WHEELS = (
    "nvidia-cuda-nvcc",
    "nvidia-cuda-crt",
    "nvidia-nvvm",
    "nvidia-cuda-cccl",
    "nvidia-cuda-runtime",
)


def cuda_toolkit(cuda: Version, ctx: BuildContext, runner: Runner, log: Path) -> tuple[Path, str]:
    """(CUDA_HOME, nvcc version) for a toolkit of `cuda`'s major, at least `cuda`'s minor."""
    if cuda.major >= 13:
        return _toolkit_from_wheels(cuda, ctx, runner, log)
    tried = []
    for home in ctx.cuda_homes:
        nvcc = home / "bin" / "nvcc"
        if not nvcc.exists():
            tried.append(f"{home} (no bin/nvcc)")
            continue
        version = nvcc_version(nvcc, ctx, runner, log)
        if version.major == cuda.major and version >= cuda:
            return home, str(version)
        tried.append(f"{home} (nvcc {version})")
    raise StageFailed(
        "provision",
        Cause.TOOLKIT_MISSING,
        f"no CUDA {cuda.major}.x toolkit >= {cuda} on this machine (tried: {', '.join(tried) or 'none'}); "
        f"PyPI's CUDA {cuda.major} wheels hold only ptxas, so install a toolkit (Debian non-free: "
        "nvidia-cuda-toolkit, 11.8 on bookworm / 12.4 on trixie; or NVIDIA's cuda-toolkit-X-Y) and pass "
        "--cuda-home, or build this tuple in the manylinux CUDA container (the rebuild workflow)",
        skipped=True,
    )


def _toolkit_from_wheels(cuda: Version, ctx: BuildContext, runner: Runner, log: Path) -> tuple[Path, str]:
    target = ctx.toolkits / f"cuda-{cuda}"
    home = target / "nvidia" / f"cu{cuda.major}"
    with locked(target):
        if not (target / ".complete").exists():
            if target.exists():
                shutil.rmtree(target)
            pins = [f"{name}=={cuda.major}.{cuda.minor}.*" for name in CUDA_WHEELS]
            argv = [ctx.uv, "pip", "install", "--quiet", "--target", target, *uv_index_args(ctx), *pins]
            done = runner(argv, env=uv_env(ctx), cwd=None, log=log)
            if not done.ok:
                raise StageFailed(
                    "provision",
                    Cause.TOOLKIT_MISSING,
                    f"cannot assemble CUDA {cuda} from PyPI's NVIDIA wheels ({', '.join(CUDA_WHEELS)}): "
                    f"{done.summary()}",
                    skipped=True,
                )
            # torch links extensions with -lcudart; the runtime wheel ships only the versioned file
            lib = home / "lib"
            for versioned in lib.glob("libcudart.so.*"):
                (lib / "libcudart.so").symlink_to(versioned.name)
                break
            (target / ".complete").write_text("ok\n")
    return home, str(nvcc_version(home / "bin" / "nvcc", ctx, runner, log))


def nvcc_version(nvcc: Path, ctx: BuildContext, runner: Runner, log: Path) -> Version:
    done = runner([nvcc, "--version"], env=dict(ctx.base_env), cwd=None, log=log)
    m = re.search(r"release (\d+\.\d+), V(\d+\.\d+\.\d+)", done.output)
    if not done.ok or m is None:
        raise StageFailed("provision", Cause.TOOLKIT_BROKEN, f"{nvcc} --version failed: {done.summary()}")
    return Version(m[2])
