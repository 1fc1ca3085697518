"""The host compiler a toolkit's nvcc accepts: the machine's gcc, or an older gcc-N beside it.

CUDA 11.8's nvcc refuses gcc newer than 11 (its host_config.h), and Debian 12's default is gcc 12. Where
the default gcc is too new, a folder of links (gcc, g++, cc, c++ -> gcc-N, g++-N) goes on the build's PATH
ahead of the system's, so nvcc, setuptools and ccache's masquerade all reach the same older compiler.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from factory.context import BuildContext
from factory.process import Runner
from factory.stages.records import StageFailed
from factory.stages.toolkit import Toolkit
from index_server.contract import Cause

OLDEST_GCC = 9


@dataclass(frozen=True, kw_only=True)
class HostCompiler:
    folder: Path | None  # links to put first on PATH; None: the machine's default gcc
    version: str  # `c++ --version`'s first line


def _major(version_line: str) -> int | None:
    m = re.search(r"\) (\d+)\.\d+", version_line) or re.search(r"(\d+)\.\d+\.\d+", version_line)
    return int(m[1]) if m else None


def _first_line(argv: list[str | Path], ctx: BuildContext, runner: Runner, log: Path) -> str:
    done = runner(argv, env=dict(ctx.base_env), cwd=None, log=log)
    return done.output.strip().splitlines()[0] if done.ok and done.output.strip() else ""


def host_compiler(toolkit: Toolkit, ctx: BuildContext, runner: Runner, log: Path) -> HostCompiler:
    default = _first_line(["c++", "--version"], ctx, runner, log)
    limit = toolkit.host_gcc_max
    major = _major(default)
    if limit is None or (major is not None and major <= limit):
        return HostCompiler(folder=None, version=default or "unknown")
    path = ctx.base_env.get("PATH", "/usr/bin:/bin")
    for n in range(limit, OLDEST_GCC - 1, -1):
        gcc, gxx = shutil.which(f"gcc-{n}", path=path), shutil.which(f"g++-{n}", path=path)
        if gcc is None or gxx is None:
            continue
        folder = ctx.cache / "host-compilers" / f"gcc-{n}"
        folder.mkdir(parents=True, exist_ok=True)
        for name, real in (("gcc", gcc), ("cc", gcc), ("g++", gxx), ("c++", gxx)):
            link = folder / name
            if not link.is_symlink() or Path(link.readlink()) != Path(real):
                link.unlink(missing_ok=True)
                link.symlink_to(real)
        return HostCompiler(folder=folder, version=_first_line([folder / "c++", "--version"], ctx, runner, log))
    raise StageFailed(
        "provision",
        Cause.TOOLKIT_MISSING,
        f"nvcc {toolkit.nvcc} takes gcc <= {limit} as its host compiler; this machine's is {default or 'missing'} "
        f"and no g++-{limit} .. g++-{OLDEST_GCC} is on PATH; install one (Debian: apt-get install g++-{limit})",
        skipped=True,
    )
