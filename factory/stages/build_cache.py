"""What builds share through the cache: the glibc-floor shim, ccache's compiler links, torch's headers.

Each is made once per cache under a lock and reused by every tuple.
"""

from __future__ import annotations

import hashlib
import shutil
from importlib import resources
from pathlib import Path

from factory.context import BuildContext
from factory.locks import locked
from factory.process import Runner
from factory.stages.build_log import first_error
from factory.stages.provision import Toolchain
from factory.stages.records import StageFailed
from index_server.contract import Cause

COMPILERS = ("gcc", "g++", "cc", "c++")


def prepare_shim(ctx: BuildContext, runner: Runner, log: Path) -> Path:
    """Compile the __libc_single_threaded shim once per cache (see data/libc_single_threaded.c)."""
    source = Path(str(resources.files("factory").joinpath("data/libc_single_threaded.c")))
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
    obj = ctx.cache / "shim" / f"libc_single_threaded-{digest}.o"
    with locked(obj):
        if not obj.exists():
            obj.parent.mkdir(parents=True, exist_ok=True)
            done = runner(["gcc", "-c", "-fPIC", "-O2", source, "-o", obj], env=dict(ctx.base_env), cwd=None, log=log)
            if not done.ok:
                raise StageFailed(
                    "build",
                    Cause.COMPILER_ERROR,
                    f"cannot compile the glibc-floor shim: {first_error(done.output)}",
                )
    return obj


def prepare_floor_shim(ctx: BuildContext, toolchain: Toolchain, runner: Runner, log: Path) -> Path:
    """Compile data/glibcxx_floor.cpp once per cache, C++ ABI and host compiler (linked into every build)."""
    source = Path(str(resources.files("factory").joinpath("data/glibcxx_floor.cpp")))
    abi = int(toolchain.cxx11_abi)
    digest = hashlib.sha256(source.read_bytes() + toolchain.host_compiler.encode()).hexdigest()[:12]
    obj = ctx.cache / "shim" / f"glibcxx_floor-abi{abi}-{digest}.o"
    gxx = str(toolchain.host_compiler_dir / "g++") if toolchain.host_compiler_dir else "g++"
    with locked(obj):
        if not obj.exists():
            obj.parent.mkdir(parents=True, exist_ok=True)
            argv = [gxx, "-c", "-fPIC", "-O2", f"-D_GLIBCXX_USE_CXX11_ABI={abi}", "-fno-sized-deallocation"]
            done = runner([*argv, source, "-o", obj], env=dict(ctx.base_env), cwd=None, log=log)
            if not done.ok:
                raise StageFailed(
                    "build", Cause.COMPILER_ERROR, f"cannot compile the GLIBCXX floor shim: {first_error(done.output)}"
                )
    return obj


def ccache_masquerade(ctx: BuildContext) -> Path | None:
    """A folder whose gcc/g++/cc/c++ are links to ccache (put first on PATH); None without ccache."""
    if ctx.ccache is None:
        return None
    masquerade = ctx.cache / "ccache-bin"
    masquerade.mkdir(parents=True, exist_ok=True)
    for name in COMPILERS:
        link = masquerade / name
        if not link.exists():
            link.symlink_to(ctx.ccache)
    return masquerade


def shared_torch_include(toolchain: Toolchain, ctx: BuildContext) -> Path:
    """A Python-independent copy (hard links) of torch's headers, keyed by the torch build and their listing."""
    listing = sorted(
        (str(p.relative_to(toolchain.torch_include)), p.stat().st_size)
        for p in toolchain.torch_include.rglob("*")
        if p.is_file()
    )
    key = hashlib.sha256(repr(listing).encode()).hexdigest()[:12]
    shared = ctx.torch_trees / f"{toolchain.torch_version}-{key}" / "include"
    with locked(shared.parent):
        if not (shared.parent / ".complete").exists():
            if shared.exists():
                shutil.rmtree(shared)
            shutil.copytree(toolchain.torch_include, shared, copy_function=_link_or_copy)
            (shared.parent / ".complete").write_text("ok\n")
    return shared


def _link_or_copy(src: str, dst: str) -> None:
    try:
        Path(dst).hardlink_to(src)
    except OSError:
        shutil.copy2(src, dst)
