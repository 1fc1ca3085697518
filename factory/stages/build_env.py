"""The environment of a job's PEP 517 build: toolkit, upstream's switches, archs, compile cache, shim.

Pure: every path comes in as an argument, nothing is read from the machine.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from factory.context import BuildContext
from factory.plan.job import NO_NVCC_DEPFILE, Job
from factory.stages.provision import Toolchain

# What a wheel's provenance records of the build's environment, besides the recipe's switches.
RECORDED_FLAGS = ("TORCH_CUDA_ARCH_LIST", "MAX_JOBS", "CPPFLAGS", "LDFLAGS")


def ccache_env(ctx: BuildContext, nvcc: Path) -> dict[str, str]:
    """nvcc through ccache (torch's PYTORCH_NVCC) and ccache's settings for a shared, path-free cache."""
    return {
        "PYTORCH_NVCC": f"{ctx.ccache} {nvcc}",
        "CCACHE_DIR": str(ctx.ccache_dir),
        "CCACHE_NOHASHDIR": "1",
        "CCACHE_SLOPPINESS": "include_file_mtime,include_file_ctime,time_macros,file_stat_matches",
        "CCACHE_MAXSIZE": "20G",
        **NO_NVCC_DEPFILE,
    }


def build_env(
    job: Job,
    ctx: BuildContext,
    toolchain: Toolchain,
    shims: list[Path],
    torch_include: Path,
    masquerade: Path | None,
) -> dict[str, str]:
    """`masquerade` is the folder of ccache's gcc/g++ links (None: no compile cache)."""
    env = dict(ctx.base_env)
    nvcc = toolchain.cuda_home / "bin" / "nvcc"
    path = [str(toolchain.env / "bin"), str(toolchain.cuda_home / "bin")]
    if toolchain.host_compiler_dir is not None:  # an older gcc the toolkit's nvcc accepts
        path.insert(0, str(toolchain.host_compiler_dir))
    env.update(job.switches)
    env.update(
        {
            "CUDA_HOME": str(toolchain.cuda_home),
            "CUDA_PATH": str(toolchain.cuda_home),
            "TORCH_CUDA_ARCH_LIST": job.arch_list,
            "MAX_JOBS": str(ctx.jobs),
            "LDFLAGS": " ".join([env.get("LDFLAGS", ""), *map(str, shims)]).strip(),
            # distutils appends CPPFLAGS after the interpreter's CFLAGS (pyenv's carry -g; setting CFLAGS
            # would replace them, -DNDEBUG and -O3 included): debug info down to line tables, so the one
            # per-Python compile (the binding .cpp: torch/extension.h + Python.h) costs ~30% less
            "CPPFLAGS": f"{env.get('CPPFLAGS', '')} {job.host_flags}".strip(),
            "FACTORY_TORCH_INCLUDE": str(torch_include),
            "PYTHONPATH": str(resources.files("factory").joinpath("data/buildhooks")),
        }
    )
    if job.spec.torch_cuda.major != job.spec.cuda.major:  # a PyPI torch standing in across CUDA majors
        env["FACTORY_TORCH_OF_OTHER_CUDA_MAJOR"] = (
            f"torch {toolchain.torch_version} (CUDA {job.spec.torch_cuda}) stands in for {job.spec.torch_stand_in_for}"
        )
    if masquerade is not None:
        path.insert(0, str(masquerade))
        env.update(ccache_env(ctx, nvcc))
    env["PATH"] = ":".join([*path, ctx.base_env.get("PATH", "/usr/bin:/bin")])
    return env


def recorded_flags(job: Job, env: dict[str, str]) -> dict[str, str]:
    """The flags a wheel's provenance lists: the environment's compile settings, -gencode, the switches."""
    flags = {k: env[k] for k in RECORDED_FLAGS if k in env}
    flags["gencode"] = " ".join(job.gencode)
    flags.update(job.switches)
    return flags
