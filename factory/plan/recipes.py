"""Per-package recipes (data/recipes.toml): upstream switches, GPU archs, conditional patches."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from factory.errors import ConfigError
from factory.plan.spec import BuildSpec


@dataclass(frozen=True, kw_only=True)
class Patch:
    name: str
    why: str
    file: str
    find: str
    replace: str
    count: int
    when: dict[str, SpecifierSet]
    regex: bool = False  # `find` is a regular expression (Python re syntax)

    def applies_to(self, spec: BuildSpec) -> bool:
        values = {"torch": spec.torch, "cuda": spec.cuda, "version": spec.version}
        return all(values[key].public in want for key, want in self.when.items())


@dataclass(frozen=True, kw_only=True)
class Recipe:
    package: NormalizedName
    env_prefix: str
    import_modules: tuple[str, ...]
    top_level: str
    requires_python: SpecifierSet
    archs: tuple[tuple[str, Version], ...]  # (arch, oldest CUDA that builds it)
    ptx: bool
    patches: tuple[Patch, ...]
    switches: tuple[tuple[str, str], ...] = ()  # more upstream switches, set as written

    def archs_for(self, cuda: Version) -> tuple[str, ...]:
        return tuple(arch for arch, min_cuda in self.archs if cuda >= min_cuda)

    def ptx_for(self, archs: tuple[str, ...]) -> str | None:
        return max(archs, key=int) if self.ptx and archs else None

    def patches_for(self, spec: BuildSpec) -> tuple[Patch, ...]:
        return tuple(p for p in self.patches if p.applies_to(spec))

    def build_env(self, spec: BuildSpec) -> dict[str, str]:
        """Upstream's own switches: always build from source, the tuple's ABI, no label (repair adds it)."""
        return {
            f"{self.env_prefix}_FORCE_BUILD": "TRUE",
            f"{self.env_prefix}_FORCE_CXX11_ABI": "TRUE" if spec.cxx11_abi else "FALSE",
            f"{self.env_prefix}_SKIP_CUDA_BUILD": "FALSE",
            **dict(self.switches),
        }


_WHEN_KEYS = {"torch", "cuda", "version"}


def _patch(pkg: str, row: dict[str, Any]) -> Patch:
    where = f"recipes.toml [[packages.{pkg}.patches]] {row.get('name', '?')!r}"
    unknown = set(row.get("when", {})) - _WHEN_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown `when` keys {sorted(unknown)}; use {sorted(_WHEN_KEYS)}")
    try:
        when = {k: SpecifierSet(v) for k, v in row.get("when", {}).items()}
        return Patch(
            name=row["name"],
            why=row["why"],
            file=row["file"],
            find=row["find"],
            replace=row["replace"],
            count=int(row.get("count", 1)),
            when=when,
            regex=bool(row.get("regex", False)),
        )
    except KeyError as missing:
        raise ConfigError(f"{where}: missing field {missing}") from None
    except InvalidSpecifier as bad:
        raise ConfigError(f"{where}: {bad}") from None


def parse_recipes(data: dict[str, Any]) -> dict[NormalizedName, Recipe]:
    recipes: dict[NormalizedName, Recipe] = {}
    for pkg, row in data.get("packages", {}).items():
        name = canonicalize_name(pkg)
        try:
            recipes[name] = Recipe(
                package=name,
                env_prefix=row["env_prefix"],
                import_modules=tuple(row["import_modules"]),
                top_level=row["top_level"],
                requires_python=SpecifierSet(row.get("requires_python", "")),
                archs=tuple((str(a["arch"]), Version(a["min_cuda"])) for a in row["archs"]),
                ptx=bool(row.get("ptx", False)),
                patches=tuple(_patch(pkg, p) for p in row.get("patches", ())),
                switches=tuple((str(k), str(v)) for k, v in row.get("switches", {}).items()),
            )
        except KeyError as missing:
            raise ConfigError(f"recipes.toml [packages.{pkg}]: missing field {missing}") from None
    return recipes


def load_recipes(path: Path | None = None) -> dict[NormalizedName, Recipe]:
    if path is not None:
        return parse_recipes(tomllib.loads(path.read_text()))
    return _default_recipes()


@cache
def _default_recipes() -> dict[NormalizedName, Recipe]:
    return parse_recipes(tomllib.loads(resources.files("factory").joinpath("data/recipes.toml").read_text()))


def recipe_for(recipes: dict[NormalizedName, Recipe], package: str) -> Recipe:
    try:
        return recipes[canonicalize_name(package)]
    except KeyError:
        raise ConfigError(
            f"no recipe for {package!r} (have {', '.join(recipes)}); add one to factory/data/recipes.toml"
        ) from None
