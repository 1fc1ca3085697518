"""build: the recipe applied to the upstream sdist, then a PEP 517 build with --no-build-isolation.

The sources of one (package, version, CUDA, torch, ABI) are unpacked and patched once, at a path that
does not depend on the Python version, and every compile goes through ccache with torch's headers at a
shared path: the device code (.cu files include no Python headers) is then compiled once and reused by
the builds for the other Pythons.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tarfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from factory.context import BuildContext
from factory.fetch import Sdist
from factory.process import Runner
from factory.provision import Toolchain, locked
from factory.recipes import Patch, Recipe
from factory.records import StageFailed
from factory.spec import BuildSpec
from index_server.contract import Cause

_ERROR = re.compile(r"(\(\d+\): error|:\d+:\d+: (fatal )?error|: fatal error|#error|error: ‘|\berror:)", re.I)
_LINK = re.compile(r"(undefined reference to|ld returned \d+ exit status|cannot find -l)")


@dataclass(frozen=True, kw_only=True)
class BuiltWheel:
    path: Path
    source: Path
    patches: list[dict[str, object]]
    flags: dict[str, str]


HOST_DEBUG_FLAG = "-g1"  # line tables only: backtraces keep file:line


def gencode_flags(spec: BuildSpec) -> list[str]:
    flags = []
    for arch in spec.archs:
        flags += ["-gencode", f"arch=compute_{arch},code=sm_{arch}"]
    if spec.ptx:
        flags += ["-gencode", f"arch=compute_{spec.ptx},code=compute_{spec.ptx}"]
    return flags


def torch_arch_list(spec: BuildSpec) -> str:
    """TORCH_CUDA_ARCH_LIST form of the spec's archs: '9.0;12.0+PTX' (for setups that rely on it)."""
    entries = [f"{a[:-1]}.{a[-1]}" for a in spec.archs]
    if spec.ptx:
        ptx = f"{spec.ptx[:-1]}.{spec.ptx[-1]}"
        entries = [e for e in entries if e != ptx] + [f"{ptx}+PTX"]
    return ";".join(entries)


def render_patch(patch: Patch, spec: BuildSpec) -> str:
    return patch.replace.replace("{gencode_flags}", repr(gencode_flags(spec)))


def apply_patches(source: Path, patches: tuple[Patch, ...], spec: BuildSpec) -> list[dict[str, object]]:
    applied = []
    for patch in patches:
        target = source / patch.file
        text = target.read_text()
        replacement = render_patch(patch, spec)
        if patch.regex:
            new, count = re.subn(patch.find, lambda _m, r=replacement: r, text)  # type: ignore[misc]
        else:
            count = text.count(patch.find)
            new = text.replace(patch.find, replacement)
        if count < patch.count:
            raise StageFailed(
                "build",
                Cause.PATCH_FAILED,
                f"patch {patch.name!r} expects {patch.find!r} at least {patch.count}x in {patch.file}, found {count}x; "
                "upstream changed: update factory/data/recipes.toml",
            )
        target.write_text(new)
        applied.append({"name": patch.name, "file": patch.file, "replacements": count, "why": patch.why})
    return applied


def patches_digest(patches: tuple[Patch, ...], spec: BuildSpec) -> str:
    text = "\n".join(f"{p.name}|{p.file}|{p.regex}|{p.find}|{render_patch(p, spec)}" for p in patches)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_env(
    spec: BuildSpec, ctx: BuildContext, recipe: Recipe, toolchain: Toolchain, shim: Path, torch_include: Path
) -> dict[str, str]:
    """The environment of the PEP 517 build: toolkit, upstream switches, archs, compile cache, floor shim."""
    env = dict(ctx.base_env)
    nvcc = toolchain.cuda_home / "bin" / "nvcc"
    path = [str(toolchain.env / "bin"), str(toolchain.cuda_home / "bin")]
    env.update(recipe.build_env(spec))
    env.update(
        {
            "CUDA_HOME": str(toolchain.cuda_home),
            "CUDA_PATH": str(toolchain.cuda_home),
            "TORCH_CUDA_ARCH_LIST": torch_arch_list(spec),
            "MAX_JOBS": str(ctx.jobs),
            "LDFLAGS": f"{env.get('LDFLAGS', '')} {shim}".strip(),
            # distutils appends CPPFLAGS after the interpreter's CFLAGS (pyenv's carry -g; setting CFLAGS
            # would replace them, -DNDEBUG and -O3 included): debug info down to line tables, so the one
            # per-Python compile (the binding .cpp: torch/extension.h + Python.h) costs ~30% less
            "CPPFLAGS": f"{env.get('CPPFLAGS', '')} {HOST_DEBUG_FLAG}".strip(),
            "FACTORY_TORCH_INCLUDE": str(torch_include),
            "PYTHONPATH": str(resources.files("factory").joinpath("data/buildhooks")),
        }
    )
    if ctx.ccache is not None:
        masquerade = ctx.cache / "ccache-bin"
        path.insert(0, str(masquerade))
        env.update(
            {
                "PYTORCH_NVCC": f"{ctx.ccache} {nvcc}",
                "CCACHE_DIR": str(ctx.ccache_dir),
                "CCACHE_NOHASHDIR": "1",
                "CCACHE_SLOPPINESS": "include_file_mtime,include_file_ctime,time_macros,file_stat_matches",
                "CCACHE_MAXSIZE": "20G",
            }
        )
    env["PATH"] = ":".join([*path, ctx.base_env.get("PATH", "/usr/bin:/bin")])
    return env


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
    if ctx.ccache is not None:
        masquerade = ctx.cache / "ccache-bin"
        masquerade.mkdir(parents=True, exist_ok=True)
        for name in ("gcc", "g++", "cc", "c++"):
            link = masquerade / name
            if not link.exists():
                link.symlink_to(ctx.ccache)
    return obj


def unpack(sdist: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with tarfile.open(sdist) as tar:
        tar.extractall(dest, filter="data")
    tops = [p for p in dest.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise StageFailed("build", Cause.BAD_SDIST, f"{sdist.name} does not hold exactly one top-level folder")
    return tops[0]


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


def build_wheel(
    spec: BuildSpec,
    ctx: BuildContext,
    recipe: Recipe,
    toolchain: Toolchain,
    sdist: Sdist,
    tuple_dir: Path,
    runner: Runner,
    log: Path,
) -> BuiltWheel:
    patches = recipe.patches_for(spec)
    shim = prepare_shim(ctx, runner, log)
    torch_include = shared_torch_include(toolchain, ctx)
    # one source folder per (sources, patches, toolchain): the same path for every Python version
    src_key = f"{spec.package}-{spec.version}-{spec.toolchain_key}-{sdist.sha256[:12]}-{patches_digest(patches, spec)}"
    src_root = ctx.cache / "src" / src_key
    dist = tuple_dir / "dist"
    if dist.exists():
        shutil.rmtree(dist)
    env = build_env(spec, ctx, recipe, toolchain, shim, torch_include)
    with locked(src_root):
        marker = src_root / ".patched.json"
        if marker.exists():
            source = Path(json.loads(marker.read_text())["source"])
            applied = json.loads(marker.read_text())["patches"]
        else:
            source = unpack(sdist.path, src_root / "tree")
            applied = apply_patches(source, patches, spec)
            marker.write_text(json.dumps({"source": str(source), "patches": applied}))
        argv = [
            toolchain.python,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--skip-dependency-check",
            "--outdir",
            dist,
            source,
        ]
        done = runner(argv, env=env, cwd=source, log=log)
    if not done.ok:
        cause, line = classify_failure(done.output)
        raise StageFailed("build", cause, line.replace(f"{source}/", ""))
    wheels = list(dist.glob("*.whl"))
    if len(wheels) != 1:
        raise StageFailed("build", Cause.NO_WHEEL, f"the build exited 0 but left {len(wheels)} wheels in {dist}")
    flags: dict[str, str] = {k: env[k] for k in ("TORCH_CUDA_ARCH_LIST", "MAX_JOBS", "CPPFLAGS", "LDFLAGS") if k in env}
    flags["gencode"] = " ".join(gencode_flags(spec))
    flags.update({k: v for k, v in recipe.build_env(spec).items()})
    return BuiltWheel(path=wheels[0], source=source, patches=applied, flags=flags)


def first_error(output: str) -> str:
    for line in output.splitlines():
        if _ERROR.search(line) or _LINK.search(line):
            return line.strip()
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def classify_failure(output: str) -> tuple[Cause, str]:
    """(cause, first error line) of a failed build log."""
    for line in output.splitlines():
        if _ERROR.search(line) and not _LINK.search(line):
            return Cause.COMPILER_ERROR, line.strip()
        if _LINK.search(line):
            return Cause.LINK_ERROR, line.strip()
    if "ModuleNotFoundError" in output or "No module named" in output:
        return Cause.BUILD_DEPENDENCY_MISSING, first_error(output)
    return Cause.BUILD_FAILED, first_error(output)
