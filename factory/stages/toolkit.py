"""The CUDA toolkit of a tuple, in order of preference: one on the machine that fits (--cuda-home,
CUDA_HOME, /usr/local/cuda-X.Y), CUDA 13 assembled from PyPI's NVIDIA wheels, CUDA 11.8 / 12.4 assembled
from Debian's archive (factory.stages.toolkit_debian). A tuple none of them fits is skipped with the fix.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from factory.context import BuildContext
from factory.locks import locked
from factory.plan.toolkits import PYPI_COMPLETE_MAJORS, load_toolkits
from factory.process import Runner
from factory.stages.records import StageFailed
from factory.stages.toolkit_debian import assemble_debian
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


@dataclass(frozen=True, kw_only=True)
class Toolkit:
    home: Path  # CUDA_HOME
    nvcc: str  # the build nvcc reports, "12.4.131"
    origin: str  # "machine", "pypi" or "debian"
    host_gcc_max: int | None = None  # the newest gcc major this nvcc takes (None: not known, not checked)

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {"cuda_home": str(self.home), "nvcc": self.nvcc, "origin": self.origin}
        if self.host_gcc_max is not None:
            out["host_gcc_max"] = self.host_gcc_max
        return out


def cuda_toolkit(cuda: Version, ctx: BuildContext, runner: Runner, log: Path) -> Toolkit:
    """A toolkit of `cuda`'s major, at least `cuda`'s minor."""
    tried = []
    for home in ctx.cuda_homes:
        nvcc = home / "bin" / "nvcc"
        if not nvcc.exists():
            tried.append(f"{home} (no bin/nvcc)")
            continue
        version = nvcc_version(nvcc, ctx, runner, log)
        if version.major == cuda.major and version >= cuda:
            return Toolkit(home=home, nvcc=str(version), origin="machine")
        tried.append(f"{home} (nvcc {version})")
    if cuda.major in PYPI_COMPLETE_MAJORS:
        home = _toolkit_from_wheels(cuda, ctx, runner, log)
        return Toolkit(home=home, nvcc=str(nvcc_version(home / "bin" / "nvcc", ctx, runner, log)), origin="pypi")
    source = load_toolkits().get(cuda)
    if source is None:
        have = ", ".join(load_toolkits().sources) or "none"
        raise StageFailed(
            "provision",
            Cause.TOOLKIT_MISSING,
            f"no CUDA {cuda.major}.x toolkit >= {cuda} on this machine (tried: {', '.join(tried) or 'none'}), "
            f"and none the factory can assemble (it assembles 13.x from PyPI and {have} from Debian's archive); "
            "pass --cuda-home, let a profile's cuda_stand_in build it with an older toolkit of the same major, "
            "or build this tuple in the manylinux CUDA container (the rebuild workflow)",
            skipped=True,
        )
    home = assemble_debian(source, ctx, runner, log)
    version = nvcc_version(home / "bin" / "nvcc", ctx, runner, log)
    if version != source.nvcc:
        raise StageFailed(
            "provision", Cause.TOOLKIT_BROKEN, f"{home}: nvcc reports {version}, data/toolkits.toml says {source.nvcc}"
        )
    return Toolkit(home=home, nvcc=str(version), origin="debian", host_gcc_max=source.host_gcc_max)


def _toolkit_from_wheels(cuda: Version, ctx: BuildContext, runner: Runner, log: Path) -> Path:
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
    return home


def nvcc_version(nvcc: Path, ctx: BuildContext, runner: Runner, log: Path) -> Version:
    done = runner([nvcc, "--version"], env=dict(ctx.base_env), cwd=None, log=log)
    m = re.search(r"release (\d+\.\d+), V(\d+\.\d+\.\d+)", done.output)
    if not done.ok or m is None:
        raise StageFailed("provision", Cause.TOOLKIT_BROKEN, f"{nvcc} --version failed: {done.summary()}")
    return Version(m[2])
