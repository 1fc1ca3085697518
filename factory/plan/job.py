"""Job: a tuple's spec and its recipe resolved once, before the first stage.

Everything the stages need from the recipe is here, computed from the spec: the patches with their
replacement text rendered, upstream's switches, the -gencode list and TORCH_CUDA_ARCH_LIST, the host
debug flag and what verify imports. No stage looks a recipe up again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from packaging.utils import NormalizedName

from factory.plan.platform_tag import PlatformTag
from factory.plan.recipes import Patch, Recipe, recipe_for
from factory.plan.spec import BuildSpec

HOST_DEBUG_FLAG = "-g1"  # line tables only: backtraces keep file:line
# Below glibc 2.24's policy (manylinux2014: CXXABI <= 1.3.7), sized operator delete (CXXABI_1.3.9, the
# C++14 default) must not be referenced: host code, the .cpp files and nvcc's host side alike, is
# compiled without it (the plain operator delete it calls instead frees the same memory).
OLD_FLOOR_HOST_FLAGS = ("-fno-sized-deallocation",)
# Before 2.11, torch's cpp_extension asks nvcc for a depfile with `--generate-dependencies-with-compile`,
# beside which nvcc refuses -E, so ccache cannot preprocess: every device compile was a `preprocessor_error`,
# never cached (2.11+ writes `-MD -MF`, which ccache understands). A one-shot build needs no depfile, so
# cpp_extension's own switch drops it for every torch: local builds and the rebuild workflow alike.
NO_NVCC_DEPFILE = {"TORCH_EXTENSION_SKIP_NVCC_GEN_DEPENDENCIES": "1"}


@dataclass(frozen=True, kw_only=True)
class RenderedPatch:
    """A recipe patch that applies to the tuple, its replacement rendered for it."""

    name: str
    why: str
    file: str
    find: str
    replacement: str
    count: int  # at least this many matches, else the build fails
    regex: bool


@dataclass(frozen=True, kw_only=True)
class Job:
    spec: BuildSpec
    package: NormalizedName  # the recipe's name for the package
    patches: tuple[RenderedPatch, ...]
    patches_digest: str  # names the patched source tree and enters the input key
    switches: dict[str, str]  # upstream's own environment switches
    gencode: tuple[str, ...]  # nvcc -gencode flags of the tuple's archs and PTX
    arch_list: str  # the same as TORCH_CUDA_ARCH_LIST
    host_flags: str  # CPPFLAGS added to the interpreter's own
    import_modules: tuple[str, ...]  # compiled extensions verify imports
    top_level: str  # the Python package verify imports; the guard goes into its __init__.py

    @property
    def id(self) -> str:
        return self.spec.id


def old_floor(spec: BuildSpec) -> bool:
    """Whether the tuple aims for a floor older than glibc 2.24 (torch <= 2.6's 2.17)."""
    glibc = PlatformTag.parse(spec.platform).glibc
    return glibc is not None and glibc < (2, 24)


def host_flags(spec: BuildSpec) -> tuple[str, ...]:
    return (HOST_DEBUG_FLAG, *(OLD_FLOOR_HOST_FLAGS if old_floor(spec) else ()))


def gencode_flags(spec: BuildSpec) -> list[str]:
    """nvcc's -gencode list of the tuple's archs and PTX, then the host flags its floor needs (these go on
    nvcc's command line, so the compile cache keys on them)."""
    flags = []
    for arch in spec.archs:
        flags += ["-gencode", f"arch=compute_{arch},code=sm_{arch}"]
    if spec.ptx:
        flags += ["-gencode", f"arch=compute_{spec.ptx},code=compute_{spec.ptx}"]
    if old_floor(spec):
        flags += [f"-Xcompiler={flag}" for flag in OLD_FLOOR_HOST_FLAGS]
    return flags


def torch_arch_list(spec: BuildSpec) -> str:
    """TORCH_CUDA_ARCH_LIST form of the spec's archs: '9.0;12.0+PTX' (for setups that rely on it)."""
    entries = [f"{a[:-1]}.{a[-1]}" for a in spec.archs]
    if spec.ptx:
        ptx = f"{spec.ptx[:-1]}.{spec.ptx[-1]}"
        entries = [e for e in entries if e != ptx] + [f"{ptx}+PTX"]
    return ";".join(entries)


def render_patch(patch: Patch, spec: BuildSpec) -> RenderedPatch:
    return RenderedPatch(
        name=patch.name,
        why=patch.why,
        file=patch.file,
        find=patch.find,
        replacement=patch.replace.replace("{gencode_flags}", repr(gencode_flags(spec))),
        count=patch.count,
        regex=patch.regex,
    )


def patches_digest(patches: tuple[RenderedPatch, ...]) -> str:
    text = "\n".join(f"{p.name}|{p.file}|{p.regex}|{p.find}|{p.replacement}" for p in patches)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def resolve(spec: BuildSpec, recipes: dict[NormalizedName, Recipe]) -> Job:
    """The tuple's job; raises ConfigError when no recipe covers its package."""
    recipe = recipe_for(recipes, spec.package)
    patches = tuple(render_patch(p, spec) for p in recipe.patches_for(spec))
    return Job(
        spec=spec,
        package=recipe.package,
        patches=patches,
        patches_digest=patches_digest(patches),
        switches=recipe.build_env(spec),
        gencode=tuple(gencode_flags(spec)),
        arch_list=torch_arch_list(spec),
        host_flags=" ".join(host_flags(spec)),
        import_modules=recipe.import_modules,
        top_level=recipe.top_level,
    )
