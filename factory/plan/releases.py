"""The releases table (data/releases.toml): every final release of each hosted package that has an sdist
on PyPI, as `factory discover --write-releases` read it, and the release policies of matrix.toml.

Planning never asks PyPI: it expands each package's policy (a floor, newest of each minor series, named
releases) against this table, and takes each release's Requires-Python and sdist from it.
"""

from __future__ import annotations

import io
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from factory.errors import ConfigError

_HEADER = """\
# Every final release with an sdist on PyPI of each package matrix.toml hosts, read from PyPI's JSON API
# (https://pypi.org/pypi/<name>/json). Written by `factory discover --write-releases`; do not edit by hand.
# `factory discover` exits 3 when PyPI lists a release, sdist or Requires-Python this table lacks.
#
#   sdist            the release's sdist file name; sha256 its digest as PyPI publishes it
#   requires_python  the sdist's Requires-Python (the planner drops the CPythons it excludes)
#   cuda_sources     whether the sdist holds the CUDA sources (*.cu) its setup.py compiles; a release
#                    whose sdist lacks them cannot be built from PyPI (the planner drops it, saying so)
"""


@dataclass(frozen=True, kw_only=True)
class Release:
    package: NormalizedName
    version: Version
    sdist: str
    sha256: str
    requires_python: SpecifierSet
    cuda_sources: bool | None = None  # None: the sdist was not inspected

    def to_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "version": str(self.version),
            "sdist": self.sdist,
            "sha256": self.sha256,
            "requires_python": str(self.requires_python),
        }
        if self.cuda_sources is not None:
            row["cuda_sources"] = self.cuda_sources
        return row


ReleaseTable = dict[NormalizedName, tuple[Release, ...]]


def parse_releases(data: dict[str, Any], origin: str = "releases.toml") -> ReleaseTable:
    table: ReleaseTable = {}
    for name, block in data.get("packages", {}).items():
        package = canonicalize_name(name)
        rows = []
        for row in block.get("releases", []):
            where = f"{origin} [packages.{name}] release {row.get('version', '?')!r}"
            try:
                rows.append(
                    Release(
                        package=package,
                        version=Version(row["version"]),
                        sdist=row["sdist"],
                        sha256=row["sha256"],
                        requires_python=SpecifierSet(row.get("requires_python", "")),
                        cuda_sources=row.get("cuda_sources"),
                    )
                )
            except KeyError as missing:
                raise ConfigError(f"{where}: missing field {missing}") from None
            except (InvalidVersion, InvalidSpecifier) as bad:
                raise ConfigError(f"{where}: {bad}") from None
        table[package] = tuple(sorted(rows, key=lambda r: r.version))
    return table


def render_releases(table: ReleaseTable) -> str:
    """The TOML text of a table (stable order, so a rewrite without news changes nothing)."""
    out = [_HEADER]
    for package in sorted(table):
        out.append(f"\n[packages.{package}]\nreleases = [\n")
        for release in sorted(table[package], key=lambda r: r.version):
            fields = ", ".join(f"{k} = {_toml_value(v)}" for k, v in release.to_row().items())
            out.append(f"    {{ {fields} }},\n")
        out.append("]\n")
    return "".join(out)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def load_releases(path: Path | None = None) -> ReleaseTable:
    if path is None:
        return _default_releases()
    try:
        return parse_releases(tomllib.loads(path.read_text()), str(path))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such releases table; run `factory discover --write-releases {path}`") from None
    except tomllib.TOMLDecodeError as bad:
        raise ConfigError(f"{path}: not valid TOML: {bad}") from None


@cache
def _default_releases() -> ReleaseTable:
    text = resources.files("factory").joinpath("data/releases.toml").read_text()
    return parse_releases(tomllib.loads(text), "factory/data/releases.toml")


def has_cuda_sources(sdist_name: str, data: bytes) -> bool:
    """Whether an sdist (.tar.gz or .zip) holds any `.cu` file."""
    if sdist_name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return any(n.endswith(".cu") for n in z.namelist())
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            return any(m.name.endswith(".cu") for m in tar.getmembers())
    except tarfile.TarError as err:
        raise ConfigError(f"{sdist_name}: not a readable sdist ({err})") from None


@dataclass(frozen=True, kw_only=True)
class ReleasePolicy:
    """Which releases of a package to build: those matching `releases` (all of them, or the newest of each
    major.minor series), plus the named `versions`."""

    releases: SpecifierSet | None = None
    newest_per_minor: bool = False
    versions: tuple[Version, ...] = ()

    def describe(self) -> str:
        parts = []
        if self.releases is not None:
            each = "newest of each minor series" if self.newest_per_minor else "every release"
            parts.append(f"{each} {self.releases or '(any)'}")
        if self.versions:
            parts.append("named " + ", ".join(map(str, self.versions)))
        return " + ".join(parts)

    def select(self, package: NormalizedName, known: tuple[Release, ...]) -> tuple[Release, ...]:
        """The releases of `known` this policy names, oldest first; a named release the table lacks is an error."""
        by_version = {r.version: r for r in known}
        missing = [v for v in self.versions if v not in by_version]
        if missing:
            have = ", ".join(str(r.version) for r in known[-6:]) or "none"
            raise ConfigError(
                f"matrix.toml names {package} {', '.join(map(str, missing))}, not in the releases table "
                f"(newest known: {have}); run `factory discover` to see PyPI's releases, and "
                "`factory discover --write-releases` to add them"
            )
        chosen = {v: by_version[v] for v in self.versions}
        if self.releases is not None:
            final = [r for r in known if not r.version.is_prerelease and r.version in self.releases]
            if self.newest_per_minor:
                newest: dict[tuple[int, ...], Release] = {}
                for r in final:
                    newest[r.version.release[:2]] = r  # `known` is sorted, so the last one wins
                final = list(newest.values())
            chosen |= {r.version: r for r in final}
        return tuple(chosen[v] for v in sorted(chosen))
