"""provision: the cached toolchain of a tuple — an interpreter, an env with its exact torch, a CUDA toolkit.

Envs live under <cache>/envs, one per (python, torch build); every package comes from one uv cache and
is hard-linked, so each ~5 GB env costs little disk. CUDA 13 is assembled from PyPI's NVIDIA wheels
(nvcc, crt, nvvm, cccl, runtime) with nothing installed system-wide; CUDA 11/12 wheels hold only ptxas,
so those tuples need a toolkit on the machine, else they are skipped with what to install.
"""

from __future__ import annotations

import fcntl
import json
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from factory.context import BuildContext
from factory.process import Runner
from factory.records import StageFailed
from factory.spec import BuildSpec
from index_server.contract import Cause

# PyPI wheels that make up a CUDA 13 toolkit able to build torch extensions.
CUDA_WHEELS = (
    "nvidia-cuda-nvcc",
    "nvidia-cuda-crt",
    "nvidia-nvvm",
    "nvidia-cuda-cccl",
    "nvidia-cuda-runtime",
)
BUILD_TOOLS = ("setuptools", "wheel", "ninja", "packaging", "build", "numpy")

_PROBE = (
    "import json, torch, torch.utils.cpp_extension as ext; print(json.dumps({'torch': torch.__version__, "
    "'cuda': torch.version.cuda, 'abi': bool(torch._C._GLIBCXX_USE_CXX11_ABI), 'include': ext.include_paths()[0]}))"
)


@dataclass(frozen=True, kw_only=True)
class Toolchain:
    interpreter: Path  # the base interpreter (pyenv's or uv-managed)
    env: Path
    python: Path  # the env's python
    cuda_home: Path
    nvcc_version: str
    torch_version: str
    torch_cuda: str
    cxx11_abi: bool
    torch_include: Path

    def describe(self) -> dict[str, str | bool]:
        return {
            "interpreter": str(self.interpreter),
            "env": str(self.env),
            "cuda_home": str(self.cuda_home),
            "nvcc": self.nvcc_version,
            "torch": self.torch_version,
            "torch_cuda": self.torch_cuda,
            "cxx11_abi": self.cxx11_abi,
        }


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock across processes, so two runs never build one env or toolkit at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def find_interpreter(python: str, ctx: BuildContext) -> Path:
    for root in ctx.python_dirs:
        found = sorted(root.glob(f"{python}.*/bin/python{python}"), key=_version_of_dir, reverse=True)
        found = [p for p in found if re.fullmatch(rf"{re.escape(python)}\.\d+", p.parents[1].name)]
        if found:
            return found[0]
    on_path = shutil.which(f"python{python}", path=ctx.base_env.get("PATH"))
    if on_path:
        return Path(on_path)
    raise StageFailed(
        "provision",
        Cause.INTERPRETER_MISSING,
        f"no CPython {python} found (looked in {', '.join(map(str, ctx.python_dirs)) or 'nothing'} and PATH); "
        f"install it with `pyenv install {python}` or `uv python install {python}`",
        skipped=True,
    )


def _version_of_dir(p: Path) -> Version:
    try:
        return Version(p.parents[1].name)
    except InvalidVersion:
        return Version("0")


def uv_index_args(ctx: BuildContext) -> list[str]:
    args = ["--index-url", ctx.index_url]
    for url in ctx.extra_index_urls:
        args += ["--extra-index-url", url]
    return [*args, "--index-strategy", "unsafe-best-match"]


def torch_index_args(spec: BuildSpec, ctx: BuildContext) -> list[str]:
    """PyPI's own torch needs nothing more; other CUDA builds come from PyTorch's index."""
    if spec.torch_on_pypi:
        return []
    return ["--extra-index-url", f"{ctx.torch_index}/cu{spec.torch_cuda_tag}"]


def uv_env(ctx: BuildContext) -> dict[str, str]:
    env = dict(ctx.base_env)
    env.update({"UV_CACHE_DIR": str(ctx.uv_cache), "UV_LINK_MODE": "hardlink", "UV_NO_CONFIG": "1"})
    return env


def install_torch_env(
    env_dir: Path,
    interpreter: Path,
    spec: BuildSpec,
    ctx: BuildContext,
    runner: Runner,
    log: Path,
    *extra: str,
) -> Path:
    """A fresh venv at env_dir holding the tuple's exact torch (and `extra` requirements)."""
    env = uv_env(ctx)
    made = runner([ctx.uv, "venv", "--quiet", "--python", interpreter, env_dir], env=env, cwd=None, log=log)
    if not made.ok:
        raise StageFailed("provision", Cause.ENV_FAILED, made.summary())
    python = env_dir / "bin" / "python"
    argv = [ctx.uv, "pip", "install", "--python", python, *uv_index_args(ctx), *torch_index_args(spec, ctx)]
    done = runner([*argv, spec.torch_requirement, *extra], env=env, cwd=None, log=log)
    if not done.ok:
        where = "PyPI" if spec.torch_on_pypi else f"{ctx.torch_index}/cu{spec.torch_cuda_tag}"
        raise StageFailed(
            "provision",
            Cause.TORCH_UNAVAILABLE,
            f"cannot install {spec.torch_requirement} for CPython {spec.python} from {where}: {done.summary()}",
            skipped=True,
        )
    return python


def provision(spec: BuildSpec, ctx: BuildContext, runner: Runner, log: Path) -> Toolchain:
    interpreter = find_interpreter(spec.python, ctx)
    cuda_home, nvcc_version = cuda_toolkit(spec.cuda, ctx, runner, log)
    env_dir = ctx.envs / f"py{spec.python}-torch{spec.torch}-cu{spec.torch_cuda_tag}"
    with locked(env_dir):
        probe_file = env_dir / ".factory-probe.json"
        if not probe_file.exists():
            if env_dir.exists():
                shutil.rmtree(env_dir)  # an earlier run died half-way
            python = install_torch_env(env_dir, interpreter, spec, ctx, runner, log, *BUILD_TOOLS)
            probed = runner([python, "-c", _PROBE], env=dict(ctx.base_env), cwd=None, log=log)
            if not probed.ok:
                raise StageFailed("provision", Cause.TORCH_BROKEN, f"torch does not import: {probed.summary()}")
            probe_file.write_text(probed.output.strip().splitlines()[-1])
        probe = json.loads(probe_file.read_text())
    if probe["cuda"] is None or Version(probe["cuda"]).major != spec.cuda.major:
        raise StageFailed(
            "provision",
            Cause.TORCH_MISMATCH,
            f"{env_dir.name}: torch {probe['torch']} is built for CUDA {probe['cuda']}, "
            f"the tuple needs CUDA {spec.cuda.major}.x",
        )
    return Toolchain(
        interpreter=interpreter,
        env=env_dir,
        python=env_dir / "bin" / "python",
        cuda_home=cuda_home,
        nvcc_version=nvcc_version,
        torch_version=probe["torch"],
        torch_cuda=probe["cuda"],
        cxx11_abi=probe["abi"],
        torch_include=Path(probe["include"]),
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
