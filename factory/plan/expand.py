"""expand: expand matrix.toml into BuildSpec tuples (pure). Invalid combinations are dropped with a reason."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from packaging.utils import NormalizedName
from packaging.version import Version

from factory.errors import PlanError
from factory.plan.compat import Compat, known_failure, load_compat
from factory.plan.knowledge import Knowledge, TorchMinor, TorchVariant
from factory.plan.matrix import MatrixConfig, PackageEntry, Profile
from factory.plan.recipes import Recipe, recipe_for
from factory.plan.releases import Release, ReleaseTable, load_releases
from factory.plan.spec import BuildSpec
from factory.plan.toolkits import ToolkitTable, load_toolkits

BUILD_PLATFORM = "manylinux_2_28_x86_64"  # the oldest floor the factory can build to (see build_platform)


@dataclass(frozen=True, kw_only=True)
class Dropped:
    package: NormalizedName
    version: Version
    torch: str
    reason: str
    cuda: str | None = None
    python: str | None = None
    cxx11_abi: bool | None = None
    # False where the reason lies with torch or the profile (no such CUDA build, no such CPython wheels),
    # so that no other release of the package would fare better
    release_specific: bool = True

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "package": str(self.package),
            "version": str(self.version),
            "torch": self.torch,
        }
        for key in ("cuda", "python", "cxx11_abi"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class Plan:
    include: list[BuildSpec] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "include": [s.to_json() for s in self.include],
            "dropped": [d.to_json() for d in self.dropped],
        }


def choose_variants(minor: TorchMinor, majors: tuple[int, ...]) -> list[TorchVariant]:
    """Per CUDA major (and per ABI, where one major ships in both), the newest toolkit the minor has."""
    newest: dict[tuple[int, bool], TorchVariant] = {}
    for variant in minor.variants():
        if variant.cuda.major not in majors:
            continue
        key = (variant.cuda.major, variant.cxx11_abi)
        if key not in newest or variant.cuda > newest[key].cuda:
            newest[key] = variant
    return sorted(newest.values(), key=lambda v: (v.cuda, v.cxx11_abi))


def _both_abis(variants: list[TorchVariant], variant: TorchVariant) -> bool:
    return any(v.cuda.major == variant.cuda.major and v.cxx11_abi != variant.cxx11_abi for v in variants)


def plan(
    matrix: MatrixConfig,
    knowledge: Knowledge,
    recipes: dict[NormalizedName, Recipe],
    profile_name: str | None = None,
    *,
    releases: ReleaseTable | None = None,
    compat: Compat | None = None,
    toolkits: ToolkitTable | None = None,
    profile: Profile | None = None,
) -> Plan:
    """Expand the matrix (or one profile of it). `releases` (what PyPI has of each package) and `compat`
    (what building has shown) default to the packaged tables, factory/data/releases.toml and compat.toml."""
    profile = profile or matrix.profile(profile_name)
    if profile.combos:
        return _union(
            [
                plan(matrix, knowledge, recipes, None, releases=releases, compat=compat, toolkits=toolkits,
                     profile=dataclasses.replace(profile, torch=torch, python=python, combos=()))
                for torch, python in profile.combos
            ]
        )  # fmt: skip
    result = expand(matrix, knowledge, recipes, profile, releases=releases, compat=compat, toolkits=toolkits)
    if not result.include:
        raise PlanError(
            f"profile {profile.name!r} selects no buildable tuple ({len(result.dropped)} dropped); "
            "run `factory plan` without --json to see why each was dropped"
        )
    return result


def expand(
    matrix: MatrixConfig,
    knowledge: Knowledge,
    recipes: dict[NormalizedName, Recipe],
    profile: Profile,
    *,
    releases: ReleaseTable | None = None,
    compat: Compat | None = None,
    toolkits: ToolkitTable | None = None,
) -> Plan:
    """`plan` for a Profile value (which may select nothing); factory.plan.wanted expands wanted slices so."""
    releases = load_releases() if releases is None else releases
    compat = load_compat() if compat is None else compat
    toolkits = load_toolkits() if toolkits is None else toolkits
    result = Plan()
    entries = _select_packages(matrix, profile)
    python_universe = sorted({p for m in knowledge.minors.values() for p in m.pythons}, key=Version)
    minors = [m for m in knowledge.minors.values() if _torch_selected(matrix, profile, m)]
    for entry in entries:
        recipe = recipe_for(recipes, entry.name)
        buildable = []
        for release in selected_releases(entry, releases, profile):
            if release.cuda_sources is False:
                result.dropped.append(
                    Dropped(
                        package=entry.name,
                        version=release.version,
                        torch="*",
                        reason=f"PyPI's sdist {release.sdist} holds no CUDA sources (*.cu), so it cannot build "
                        "the extension; upstream built its wheels from the git tag",
                    )
                )
                continue
            buildable.append(release)
        context = _Context(matrix, profile, recipe, python_universe, compat, toolkits)
        if profile.newest_release:
            # per torch minor, the newest release that has a tuple left (one shown not to build gives way to
            # the next older, its reason kept)
            for minor in minors:
                for release in reversed(buildable):
                    trial = Plan()
                    _plan_minor(trial, context, release, minor)
                    result.dropped.extend(trial.dropped)
                    if trial.include:
                        result.include.extend(trial.include)
                        break
                    if not any(d.release_specific for d in trial.dropped):
                        break  # torch's or the profile's reasons: an older release would be dropped alike
        else:
            for release in buildable:
                for minor in minors:
                    _plan_minor(result, context, release, minor)
    return result


def _union(plans: list[Plan]) -> Plan:
    """The tuples of several plans, each once, in order; their dropped combinations, each once."""
    result = Plan()
    ids: set[str] = set()
    drops: set[str] = set()
    for part in plans:
        for spec in part.include:
            if spec.id not in ids:
                ids.add(spec.id)
                result.include.append(spec)
        for drop in part.dropped:
            key = repr(drop.to_json())
            if key not in drops:
                drops.add(key)
                result.dropped.append(drop)
    return result


def selected_releases(entry: PackageEntry, releases: ReleaseTable, profile: Profile) -> tuple[Release, ...]:
    """The releases the package's policy names, oldest first (a newest_release profile takes the newest of
    them that has a tuple left, per torch minor)."""
    chosen = entry.policy.select(entry.name, releases.get(entry.name, ()))
    if not chosen:
        raise PlanError(
            f"matrix.toml's policy for {entry.name} ({entry.policy.describe()}) selects no release of the "
            "releases table; run `factory discover` to see PyPI's releases"
        )
    return chosen


def _select_packages(matrix: MatrixConfig, profile: Profile) -> list[PackageEntry]:
    if profile.packages is None:
        return list(matrix.packages)
    known = {e.name: e for e in matrix.packages}
    missing = [p for p in profile.packages if p not in known]
    if missing:
        raise PlanError(
            f"profile {profile.name!r} names {missing}, not in matrix.toml [[packages]] ({', '.join(known)})"
        )
    return [known[p] for p in profile.packages]


def _torch_selected(matrix: MatrixConfig, profile: Profile, minor: TorchMinor) -> bool:
    if profile.torch is not None:
        return minor.minor in profile.torch
    return minor.version in matrix.torch


@dataclass(frozen=True)
class _Context:
    matrix: MatrixConfig
    profile: Profile
    recipe: Recipe
    python_universe: list[str]
    compat: Compat
    toolkits: ToolkitTable


def _plan_minor(result: Plan, context: _Context, release: Release, minor: TorchMinor) -> None:
    matrix, profile, recipe = context.matrix, context.profile, context.recipe
    python_universe, compat = context.python_universe, context.compat
    version = release.version

    def dropped(reason: str, release_specific: bool = False, **combo: Any) -> None:
        result.dropped.append(
            Dropped(
                package=recipe.package,
                version=version,
                torch=minor.minor,
                reason=reason,
                release_specific=release_specific,
                **combo,
            )
        )

    shipped = ", ".join(str(c) for c in minor.cuda)
    if profile.pypi_variant:
        variants = [minor.variant(minor.pypi_cuda)]
    elif profile.cuda is not None:
        variants = []
        for cuda in profile.cuda:
            if cuda in minor.cuda:
                variants.append(minor.variant(cuda))
            else:
                dropped(
                    f"PyTorch ships no CUDA {cuda} build of torch {minor.minor} (it ships {shipped})",
                    cuda=str(cuda),
                )
    else:
        majors = matrix.cuda_majors if profile.cuda_majors is None else profile.cuda_majors
        variants = choose_variants(minor, majors)
        for major in majors:
            if not any(v.cuda.major == major for v in variants):
                dropped(
                    f"PyTorch ships no CUDA {major}.x build of torch {minor.minor} (it ships {shipped})",
                    cuda=f"{major}.x",
                )
    pythons = list(profile.python or matrix.python or python_universe)
    for variant in variants:
        if profile.cxx11_abi is not None and variant.cxx11_abi not in profile.cxx11_abi:
            abi = "new" if variant.cxx11_abi else "old"
            dropped(
                f"torch {minor.minor}+cu{variant.cuda} uses the {abi} C++ ABI; "
                f"profile {profile.name!r} selects only cxx11_abi={list(profile.cxx11_abi)}",
                cuda=str(variant.cuda),
                cxx11_abi=variant.cxx11_abi,
            )
            continue
        archs = profile.archs if profile.archs is not None else recipe.archs_for(variant.cuda)
        exact_pin = _both_abis(variants, variant) and variant.cxx11_abi
        torch_cuda, on_pypi, stand_in = variant.cuda, variant.on_pypi, None
        same_major = minor.pypi_cuda.major == variant.cuda.major
        if (
            profile.torch_from_pypi
            and not on_pypi
            and not exact_pin
            and (same_major or profile.torch_from_pypi_any_cuda)
        ):
            # PyPI's torch of the same release: the same C++ API and ABI, and the wheel's torch pin
            # (torch>=X.Y,<X.Y+1) admits the variant it stands in for.
            torch_cuda, on_pypi = minor.pypi_cuda, True
            stand_in = f"{minor.version}+cu{variant.cuda.major}{variant.cuda.minor}"
        cuda, cuda_stand_in_for = variant.cuda, None
        archs_dropped: tuple[str, ...] = ()
        if not context.toolkits.reachable(variant.cuda):
            substitute = next((s for s in profile.cuda_stand_in if s.major == variant.cuda.major), None)
            source = context.toolkits.exact(str(substitute)) if substitute is not None else None
            if source is not None and substitute is not None:
                cuda, cuda_stand_in_for = substitute, str(variant.cuda)
                archs_dropped = tuple(a for a in archs if a not in source.sass)
                archs = tuple(a for a in archs if a in source.sass)
        platform = variant.platform if profile.torch_floor else build_platform(variant.platform)
        for python in pythons:
            combo: dict[str, Any] = {"cuda": str(cuda), "python": python, "cxx11_abi": variant.cxx11_abi}
            if python not in minor.pythons:
                note = " (experimental there, so not built)" if python in minor.experimental_pythons else ""
                lo, hi = minor.pythons[0], minor.pythons[-1]
                dropped(f"torch {minor.minor} has no CPython {python} wheels{note}; it has {lo}–{hi}", **combo)
                continue
            if Version(python) not in release.requires_python:
                dropped(f"{recipe.package} {version} requires Python {release.requires_python}", True, **combo)
                continue
            spec = BuildSpec(
                package=recipe.package,
                version=version,
                cuda=cuda,
                torch=minor.version,
                torch_cuda=torch_cuda,
                python=python,
                cxx11_abi=variant.cxx11_abi,
                platform=platform,
                archs=tuple(archs),
                ptx=_ptx_of(profile, recipe, tuple(archs)),
                exact_torch_pin=exact_pin,
                torch_on_pypi=on_pypi,
                torch_stand_in_for=stand_in,
                cuda_stand_in_for=cuda_stand_in_for,
                archs_dropped=archs_dropped,
                accept_raised_floor=profile.accept_raised_floor,
            )
            excluded = next((e for e in matrix.excludes if e.match.matches(spec)), None)
            if excluded is not None:
                dropped(excluded.reason, True, **combo)
                continue
            failed = known_failure(compat, spec)
            if failed is not None:
                dropped(failed.reason(), True, **combo)
                continue
            result.include.append(_apply_overrides(matrix, recipe, spec))


def _ptx_of(profile: Profile, recipe: Recipe, archs: tuple[str, ...]) -> str | None:
    if isinstance(profile.ptx, str):
        return profile.ptx
    return recipe.ptx_for(archs) if (profile.ptx is None or profile.ptx) else None


def build_platform(torch_floor: str) -> str:
    """The floor a tuple's wheel gets: torch's own, raised to BUILD_PLATFORM where that is older. Both
    build paths produce BUILD_PLATFORM at best: the rebuild workflow builds in PyTorch's manylinux_2_28
    images (the CentOS 7 ones are no longer built), and a local gcc 12 needs GLIBCXX newer than 2_17 allows."""
    return max(torch_floor, BUILD_PLATFORM, key=lambda tag: [int(x) for x in tag.split("_")[1:3]])


def _apply_overrides(matrix: MatrixConfig, recipe: Recipe, spec: BuildSpec) -> BuildSpec:
    for override in matrix.overrides:
        if not override.match.matches(spec):
            continue
        archs = override.archs if override.archs is not None else spec.archs
        ptx = spec.ptx if override.ptx is None else (recipe.ptx_for(archs) if override.ptx else None)
        spec = dataclasses.replace(spec, archs=archs, ptx=ptx)
    return spec
