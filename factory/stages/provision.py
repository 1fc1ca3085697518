"""provision: the cached toolchain of a tuple — an interpreter, an env with its exact torch, a CUDA toolkit.

Envs live under <cache>/envs, one per (python, torch build); the toolkit comes from factory.stages.toolkit.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from factory.context import BuildContext
from factory.locks import locked
from factory.plan.spec import BuildSpec
from factory.process import Runner
from factory.stages.host_compiler import host_compiler
from factory.stages.interpreters import find_interpreter
from factory.stages.records import StageFailed
from factory.stages.toolkit import Toolkit, cuda_toolkit
from factory.stages.uv_envs import install_torch_env
from index_server.contract import Cause

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
    toolkit: Toolkit
    host_compiler_dir: Path | None  # links to an older gcc put first on PATH (None: the machine's gcc)
    host_compiler: str  # its `c++ --version` line
    torch_version: str
    torch_cuda: str
    cxx11_abi: bool
    torch_include: Path

    @property
    def cuda_home(self) -> Path:
        return self.toolkit.home

    @property
    def nvcc_version(self) -> str:
        return self.toolkit.nvcc

    def describe(self) -> dict[str, str | bool]:
        return {
            "interpreter": str(self.interpreter),
            "env": str(self.env),
            "cuda_home": str(self.cuda_home),
            "nvcc": self.nvcc_version,
            "toolkit_origin": self.toolkit.origin,
            "host_compiler": self.host_compiler,
            "torch": self.torch_version,
            "torch_cuda": self.torch_cuda,
            "cxx11_abi": self.cxx11_abi,
        }


def provision(spec: BuildSpec, ctx: BuildContext, runner: Runner, log: Path) -> Toolchain:
    interpreter = find_interpreter(spec.python, ctx)
    toolkit = cuda_toolkit(spec.cuda, ctx, runner, log)
    compiler = host_compiler(toolkit, ctx, runner, log)
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
    if probe["cuda"] is None or Version(probe["cuda"]).major != spec.torch_cuda.major:
        raise StageFailed(
            "provision",
            Cause.TORCH_MISMATCH,
            f"{env_dir.name}: torch {probe['torch']} is built for CUDA {probe['cuda']}, "
            f"the tuple needs a CUDA {spec.torch_cuda.major}.x torch",
        )
    return Toolchain(
        interpreter=interpreter,
        env=env_dir,
        python=env_dir / "bin" / "python",
        toolkit=toolkit,
        host_compiler_dir=compiler.folder,
        host_compiler=compiler.version,
        torch_version=probe["torch"],
        torch_cuda=probe["cuda"],
        cxx11_abi=probe["abi"],
        torch_include=Path(probe["include"]),
    )
