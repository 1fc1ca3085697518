"""CUDA 11.8 and 12.4 assembled from Debian's non-free archive and PyPI, into the factory's own cache.

The compiler (nvcc, cicc, ptxas, fatbinary, nvlink, libdevice) comes from the toolkit's .deb, fetched with
a private apt configuration: a sources list, lists, archives and cache folder under the toolkit's folder,
so the machine's apt sources are never read or changed, and apt checks every .deb against the archive's
signed index. `dpkg -x` unpacks it; nothing is installed. Headers and the runtime come from PyPI wheels of
the same CUDA release (data/toolkits.toml). The result is a CUDA_HOME laid out as NVIDIA's installer lays
it out (bin/, include/, lib64/, nvvm/libdevice) with an nvcc.profile that points into it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from factory.context import BuildContext
from factory.locks import locked
from factory.plan.toolkits import ToolkitSource
from factory.process import Runner
from factory.stages.records import StageFailed
from factory.stages.uv_envs import uv_env, uv_index_args
from index_server.contract import Cause

DEB_BIN = Path("usr/bin")
DEB_TOOLKIT = Path("usr/lib/nvidia-cuda-toolkit")

# nvcc reads the nvcc.profile beside its own binary; _HERE_ is that folder.
NVCC_PROFILE = """\
# Written by the CUDA wheel factory: this toolkit was unpacked into the folder above this one.
TOP = $(_HERE_)/..
NVVMIR_LIBRARY_DIR = $(TOP)/nvvm/libdevice
LD_LIBRARY_PATH += $(TOP)/lib64:
PATH += $(_HERE_):
INCLUDES += "-I$(TOP)/include" $(_SPACE_)
LIBRARIES =+ $(_SPACE_) "-L$(TOP)/lib64/stubs" "-L$(TOP)/lib64"
"""


def apt_files(root: Path, suite: str, mirror: str, keyring: Path) -> dict[Path, str]:
    """The private apt configuration's files (pure): only `suite`'s main and non-free components."""
    sources = f"deb [signed-by={keyring}] {mirror} {suite} main non-free\n"
    conf = "\n".join(
        [
            f'Dir::Etc::SourceList "{root / "sources.list"}";',
            'Dir::Etc::SourceParts "-";',
            f'Dir::State::Lists "{root / "lists"}";',
            f'Dir::Cache "{root / "cache"}";',
            f'Dir::Cache::Archives "{root / "archives"}";',
            'Dir::State::status "/dev/null";',
            'APT::Architecture "amd64";',
            'APT::Sandbox::User "root";',
            'Debug::NoLocking "true";',
            "",
        ]
    )
    return {root / "sources.list": sources, root / "apt.conf": conf}


def _apt(source: ToolkitSource, ctx: BuildContext, target: Path, runner: Runner, log: Path) -> list[Path]:
    """The toolkit's .debs, downloaded through the private configuration; their paths."""
    if ctx.apt_get is None or ctx.dpkg is None:
        raise StageFailed(
            "provision",
            Cause.TOOLKIT_MISSING,
            f"CUDA {source.key} comes from Debian's archive, and this machine has no apt-get/dpkg; pass "
            f"--cuda-home with a CUDA {source.cuda.major}.x toolkit >= {source.key}, or build in the "
            "manylinux CUDA container (the rebuild workflow)",
            skipped=True,
        )
    root = target / "apt"
    for folder in ("lists/partial", "archives/partial", "cache"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for path, text in apt_files(root, source.suite, ctx.debian_mirror, ctx.debian_keyring).items():
        path.write_text(text)
    env = {**ctx.base_env, "APT_CONFIG": str(root / "apt.conf"), "DEBIAN_FRONTEND": "noninteractive"}
    where = f"{ctx.debian_mirror} {source.suite} non-free"
    updated = runner([ctx.apt_get, "update", "-q"], env=env, cwd=None, log=log)
    if not updated.ok:
        raise StageFailed(
            "provision",
            Cause.TOOLKIT_MISSING,
            f"CUDA {source.key} comes from Debian's archive, and apt-get update of {where} failed: {updated.summary()}",
            skipped=True,
        )
    fetched = runner([ctx.apt_get, "download", "-q", *source.debs], env=env, cwd=root / "archives", log=log)
    if not fetched.ok:
        raise StageFailed(
            "provision",
            Cause.TOOLKIT_MISSING,
            f"CUDA {source.key}: cannot download {', '.join(source.debs)} from {where}: {fetched.summary()}",
            skipped=True,
        )
    debs = []
    for entry in source.debs:
        name = entry.split("=", 1)[0]
        found = sorted((root / "archives").glob(f"{name}_*.deb"))
        if not found:
            raise StageFailed("provision", Cause.TOOLKIT_BROKEN, f"apt-get download left no {name}_*.deb")
        debs.append(found[-1])
    return debs


def _link_tree(src: Path, dest: Path) -> None:
    """Hard-link (or copy) every file of `src` into `dest`; a file already there must be identical."""
    for path in sorted(src.rglob("*")):
        out = dest / path.relative_to(src)
        if path.is_dir() and not path.is_symlink():
            out.mkdir(parents=True, exist_ok=True)
            continue
        if out.exists() or out.is_symlink():
            if path.is_symlink() or out.read_bytes() != path.read_bytes():
                raise StageFailed("provision", Cause.TOOLKIT_BROKEN, f"{out}: two different files of one name")
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            out.symlink_to(os.readlink(path))
        else:
            _link_or_copy(path, out)


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        dest.hardlink_to(src)
    except OSError:
        shutil.copy2(src, dest)


def lay_out(unpacked: Path, wheels: Path, home: Path) -> None:
    """CUDA_HOME from the unpacked .debs and the wheels' nvidia/*/ folders (no commands run)."""
    (home / "bin").mkdir(parents=True)
    # usr/bin holds the tools and a shell wrapper named nvcc; the real nvcc and cicc are in DEB_TOOLKIT/bin
    for folder in (unpacked / DEB_BIN, unpacked / DEB_TOOLKIT / "bin"):
        for tool in sorted(folder.iterdir()):
            if tool.is_symlink() or tool.name in ("gcc", "g++", "nvcc.profile"):
                continue
            out = home / "bin" / tool.name
            if out.exists():
                out.unlink()
            if tool.is_dir():
                shutil.copytree(tool, out)
            else:
                _link_or_copy(tool, out)
    (home / "bin" / "nvcc.profile").write_text(NVCC_PROFILE)
    _link_tree(unpacked / DEB_TOOLKIT / "libdevice", home / "nvvm" / "libdevice")
    include = home / "include"
    include.mkdir()
    for part in sorted((wheels / "nvidia").iterdir()):
        if (part / "include").is_dir():
            _link_tree(part / "include", include)
        if (part / "lib").is_dir():
            _link_tree(part / "lib", home / "lib64")
    for library in ("cub", "thrust", "cuda", "nv"):  # Debian's cub/thrust/libcu++ packages, where listed
        if (unpacked / "usr/include" / library).is_dir():
            _link_tree(unpacked / "usr/include" / library, include / library)
    lib = home / "lib64"
    for versioned in sorted(lib.glob("libcudart.so.*")):
        if not (lib / "libcudart.so").exists():
            (lib / "libcudart.so").symlink_to(versioned.name)  # torch links extensions with -lcudart


def assemble_debian(source: ToolkitSource, ctx: BuildContext, runner: Runner, log: Path) -> Path:
    """CUDA_HOME of `source`, assembled once per cache (locked; a half-made one is made again)."""
    target = ctx.toolkits / f"cuda-{source.key}-debian"
    home = target / "home"
    with locked(target):
        if (target / ".complete").exists():
            return home
        for stale in ("unpacked", "wheels", "home"):
            shutil.rmtree(target / stale, ignore_errors=True)
        debs = _apt(source, ctx, target, runner, log)
        for deb in debs:
            done = runner([ctx.dpkg, "-x", deb, target / "unpacked"], env=dict(ctx.base_env), cwd=None, log=log)
            if not done.ok:
                raise StageFailed("provision", Cause.TOOLKIT_BROKEN, f"dpkg -x {deb.name}: {done.summary()}")
        argv = [ctx.uv, "pip", "install", "--quiet", "--no-deps", "--target", target / "wheels"]
        done = runner([*argv, *uv_index_args(ctx), *source.wheels], env=uv_env(ctx), cwd=None, log=log)
        if not done.ok:
            raise StageFailed(
                "provision",
                Cause.TOOLKIT_MISSING,
                f"cannot install CUDA {source.key}'s headers and runtime ({', '.join(source.wheels)}): "
                f"{done.summary()}",
                skipped=True,
            )
        lay_out(target / "unpacked", target / "wheels", home)
        (target / ".complete").write_text("ok\n")
    return home
