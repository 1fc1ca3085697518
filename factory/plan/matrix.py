"""matrix.toml parsed once into frozen, typed options (axes, excludes, overrides, profiles)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from factory.errors import ConfigError
from factory.plan.releases import ReleasePolicy
from factory.plan.spec import BuildSpec

_MATCH_KEYS = {"package", "version", "torch", "cuda", "python", "cxx11_abi"}
_OVERRIDE_KEYS = {"archs", "ptx"}


@dataclass(frozen=True, kw_only=True)
class Match:
    """A predicate on tuples: every key given must match."""

    package: NormalizedName | None = None
    specifiers: dict[str, SpecifierSet] = field(default_factory=dict)  # version, torch, cuda, python
    cxx11_abi: bool | None = None

    def matches(self, spec: BuildSpec) -> bool:
        if self.package is not None and spec.package != self.package:
            return False
        if self.cxx11_abi is not None and spec.cxx11_abi != self.cxx11_abi:
            return False
        values = {
            "version": spec.version,
            "torch": spec.torch,
            "cuda": spec.cuda,
            "python": Version(spec.python),
        }
        return all(values[k].public in s for k, s in self.specifiers.items())


@dataclass(frozen=True, kw_only=True)
class Exclude:
    match: Match
    reason: str


@dataclass(frozen=True, kw_only=True)
class Override:
    match: Match
    archs: tuple[str, ...] | None = None
    ptx: bool | None = None


@dataclass(frozen=True, kw_only=True)
class Profile:
    name: str
    description: str = ""
    packages: tuple[NormalizedName, ...] | None = None
    torch: tuple[str, ...] | None = None  # torch minors
    cuda: tuple[Version, ...] | None = None  # exact toolkit versions
    cuda_majors: tuple[int, ...] | None = None  # the full matrix's choice of toolkit, for these majors only
    python: tuple[str, ...] | None = None
    cxx11_abi: tuple[bool, ...] | None = None
    archs: tuple[str, ...] | None = None
    ptx: bool | str | None = None  # true: PTX of the newest arch; "80": PTX of that arch (even with no SASS)
    newest_release: bool = False  # only the newest release each package's policy selects
    # Where the planned torch variant lives only on PyTorch's own index (e.g. 2.14.1+cu132), build and
    # verify against PyPI's torch of the same release and CUDA major instead (recorded in the provenance).
    torch_from_pypi: bool = False
    # ...also where PyPI's torch is of another CUDA major (torch 2.3+cu118 built against PyPI's cu121 torch:
    # the same C++ API and ABI; the wheel cannot be import-tested against its exact torch here).
    torch_from_pypi_any_cuda: bool = False
    pypi_variant: bool = False  # per torch minor, only the variant PyPI's own torch is (its CUDA and ABI)
    # Toolkits that may build tuples whose planned toolkit of the same major cannot be had (12.4 for
    # 12.6-12.9): the arch list is capped to what the stand-in compiles, and the spec says so.
    cuda_stand_in: tuple[Version, ...] = ()
    torch_floor: bool = False  # aim for torch's own glibc floor (2.17 for torch <= 2.6), not the build images'
    accept_raised_floor: bool = False  # where it cannot be reached here, take the lowest floor auditwheel grants
    # A union of slices: each entry narrows torch and python (e.g. every minor on 3.10, plus 2.8 on 3.12).
    combos: tuple[tuple[tuple[str, ...] | None, tuple[str, ...] | None], ...] = ()


@dataclass(frozen=True, kw_only=True)
class PackageEntry:
    """A hosted package and which of its releases to build (expanded against the releases table)."""

    name: NormalizedName
    policy: ReleasePolicy


@dataclass(frozen=True, kw_only=True)
class MatrixConfig:
    packages: tuple[PackageEntry, ...]
    torch: SpecifierSet
    cuda_majors: tuple[int, ...]
    python: tuple[str, ...] | None  # None: "all"
    arch: str
    excludes: tuple[Exclude, ...] = ()
    overrides: tuple[Override, ...] = ()
    profiles: dict[str, Profile] = field(default_factory=dict)

    def profile(self, name: str | None) -> Profile:
        if name is None:
            return Profile(name="full")
        try:
            return self.profiles[name]
        except KeyError:
            have = ", ".join(self.profiles) or "none"
            raise ConfigError(f"no profile {name!r} in matrix.toml (profiles: {have})") from None


def _spec(value: object, where: str) -> SpecifierSet:
    try:
        return SpecifierSet(str(value))
    except InvalidSpecifier:
        raise ConfigError(f"{where}: {value!r} is not a version specifier (e.g. '>=2.9')") from None


def _versions(values: list[Any], where: str) -> tuple[Version, ...]:
    try:
        return tuple(Version(str(v)) for v in values)
    except InvalidVersion as bad:
        raise ConfigError(f"{where}: {bad}") from None


def _match(row: dict[str, Any], where: str) -> Match:
    unknown = set(row) - _MATCH_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown match keys {sorted(unknown)}; use {sorted(_MATCH_KEYS)}")
    return Match(
        package=canonicalize_name(row["package"]) if "package" in row else None,
        specifiers={k: _spec(v, f"{where}.{k}") for k, v in row.items() if k in {"version", "torch", "cuda", "python"}},
        cxx11_abi=row.get("cxx11_abi"),
    )


def _ptx(value: object, where: str) -> bool | str | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return value
    raise ConfigError(f'{where}.ptx: {value!r}; use true, false or an arch such as "80"')


def _profile(name: str, row: dict[str, Any]) -> Profile:
    where = f"matrix.toml [profiles.{name}]"
    known = {"description", "packages", "newest_release", "torch", "cuda", "cuda_majors", "python", "cxx11_abi"}
    known |= {"archs", "ptx", "torch_from_pypi", "pypi_variant", "cuda_stand_in", "glibc_floor", "accept_raised_floor"}
    known |= {"combos"}
    unknown = set(row) - known
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; use {sorted(known)}")
    if "cuda" in row and "cuda_majors" in row:
        raise ConfigError(f"{where}: give cuda (exact toolkits) or cuda_majors (the full matrix's choice), not both")

    from_pypi = row.get("torch_from_pypi", False)
    if from_pypi not in (True, False, "any-cuda"):
        raise ConfigError(f'{where}.torch_from_pypi: {from_pypi!r}; use true (same CUDA major) or "any-cuda"')
    floor = row.get("glibc_floor", "build")
    if floor not in ("build", "torch"):
        raise ConfigError(f'{where}.glibc_floor: {floor!r}; use "build" (the build images\') or "torch" (torch\'s own)')

    def strings(key: str, table: dict[str, Any] = row) -> tuple[str, ...] | None:
        return tuple(str(v) for v in table[key]) if key in table else None

    combos = []
    for i, combo in enumerate(row.get("combos", [])):
        if not isinstance(combo, dict) or not set(combo) <= {"torch", "python"} or not combo:
            raise ConfigError(f"{where}.combos[{i}]: expected a table of torch and/or python lists")
        combos.append((strings("torch", combo), strings("python", combo)))

    return Profile(
        name=name,
        description=str(row.get("description", "")),
        packages=tuple(canonicalize_name(p) for p in row["packages"]) if "packages" in row else None,
        torch=strings("torch"),
        cuda=_versions(row["cuda"], f"{where}.cuda") if "cuda" in row else None,
        cuda_majors=tuple(int(m) for m in row["cuda_majors"]) if "cuda_majors" in row else None,
        python=strings("python"),
        cxx11_abi=tuple(bool(v) for v in row["cxx11_abi"]) if "cxx11_abi" in row else None,
        archs=strings("archs"),
        ptx=_ptx(row.get("ptx"), where),
        newest_release=bool(row.get("newest_release", False)),
        torch_from_pypi=from_pypi is not False,
        torch_from_pypi_any_cuda=from_pypi == "any-cuda",
        pypi_variant=bool(row.get("pypi_variant", False)),
        cuda_stand_in=_versions(row.get("cuda_stand_in", []), f"{where}.cuda_stand_in"),
        torch_floor=floor == "torch",
        accept_raised_floor=bool(row.get("accept_raised_floor", False)),
        combos=tuple(combos),
    )


_PACKAGE_KEYS = {"name", "releases", "newest_per_minor", "versions"}


def _package(row: dict[str, Any], origin: str) -> PackageEntry:
    where = f"{origin} [[packages]] {row.get('name', row)!r}"
    unknown = set(row) - _PACKAGE_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; use {sorted(_PACKAGE_KEYS)}")
    if "name" not in row or not ("releases" in row or row.get("versions")):
        raise ConfigError(
            f'{where}: needs a name and which releases to build: releases = ">=1.4" (a specifier), '
            "and/or versions = [...] (named releases)"
        )
    if "newest_per_minor" in row and "releases" not in row:
        raise ConfigError(f"{where}: newest_per_minor applies to `releases`, which is missing")
    policy = ReleasePolicy(
        releases=_spec(row["releases"], f"{where}.releases") if "releases" in row else None,
        newest_per_minor=bool(row.get("newest_per_minor", False)),
        versions=_versions(row.get("versions", []), f"{where}.versions"),
    )
    return PackageEntry(name=canonicalize_name(row["name"]), policy=policy)


def parse_matrix(data: dict[str, Any], origin: str = "matrix.toml") -> MatrixConfig:
    axes = data.get("matrix")
    if not isinstance(axes, dict):
        raise ConfigError(f"{origin}: missing the [matrix] table (torch, cuda_majors, python, arch)")
    if not data.get("packages"):
        raise ConfigError(f'{origin}: no [[packages]] entries; add name = ..., releases = ">=X"')
    packages = [_package(row, origin) for row in data["packages"]]
    python = axes.get("python", "all")
    excludes = []
    for i, row in enumerate(data.get("exclude", [])):
        if not row.get("reason"):
            raise ConfigError(f"{origin} [[exclude]] #{i + 1}: every exclude needs a reason")
        excludes.append(
            Exclude(match=_match(row.get("match", {}), f"{origin} [[exclude]] #{i + 1}"), reason=row["reason"])
        )
    overrides = []
    for i, row in enumerate(data.get("override", [])):
        where = f"{origin} [[override]] #{i + 1}"
        settings = row.get("set", {})
        unknown = set(settings) - _OVERRIDE_KEYS
        if unknown:
            raise ConfigError(f"{where}: cannot override {sorted(unknown)}; overridable: {sorted(_OVERRIDE_KEYS)}")
        overrides.append(
            Override(
                match=_match(row.get("match", {}), where),
                archs=tuple(str(a) for a in settings["archs"]) if "archs" in settings else None,
                ptx=settings.get("ptx"),
            )
        )
    return MatrixConfig(
        packages=tuple(packages),
        torch=_spec(axes.get("torch", ""), f"{origin} [matrix].torch"),
        cuda_majors=tuple(int(m) for m in axes.get("cuda_majors", (11, 12, 13))),
        python=None if python == "all" else tuple(str(p) for p in python),
        arch=str(axes.get("arch", "x86_64")),
        excludes=tuple(excludes),
        overrides=tuple(overrides),
        profiles={name: _profile(name, row) for name, row in data.get("profiles", {}).items()},
    )


def load_matrix(path: Path) -> MatrixConfig:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such matrix file; pass --matrix PATH or run from the repository root") from None
    try:
        return parse_matrix(tomllib.loads(text), str(path))
    except tomllib.TOMLDecodeError as bad:
        raise ConfigError(f"{path}: not valid TOML: {bad}") from None
