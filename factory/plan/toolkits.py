"""The toolkits table (data/toolkits.toml): CUDA 11/12 toolkits the factory can assemble itself, typed.

The planner reads it to know which toolkit may stand in for one that cannot be had (12.4 for 12.6–12.9)
and which archs that toolkit compiles; the provision stage reads it to fetch and unpack the toolkit.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from packaging.version import InvalidVersion, Version

from factory.errors import ConfigError

# CUDA majors whose whole toolkit PyPI carries (nvidia-cuda-nvcc, -crt, -nvvm, -cccl, -runtime): any
# minor of them can be had, so they never need a stand-in.
PYPI_COMPLETE_MAJORS = frozenset({13})


@dataclass(frozen=True, kw_only=True)
class ToolkitSource:
    cuda: Version  # 12.4
    suite: str  # the Debian release whose non-free archive has it
    debs: tuple[str, ...]  # "package=version", the toolkit's binaries first
    wheels: tuple[str, ...]  # exact PyPI requirements for headers and the runtime
    nvcc: Version  # the build nvcc reports, 12.4.131
    host_gcc_max: int
    sass: tuple[str, ...]  # archs this nvcc compiles

    @property
    def key(self) -> str:
        return f"{self.cuda.major}.{self.cuda.minor}"


@dataclass(frozen=True)
class ToolkitTable:
    sources: dict[str, ToolkitSource]

    def get(self, cuda: Version) -> ToolkitSource | None:
        """The assembled toolkit that builds tuples of `cuda`: the same major, a minor at least `cuda`'s."""
        fits = [s for s in self.sources.values() if s.cuda.major == cuda.major and s.cuda >= cuda]
        return min(fits, key=lambda s: s.cuda) if fits else None

    def exact(self, cuda: str) -> ToolkitSource | None:
        return self.sources.get(cuda)

    def reachable(self, cuda: Version) -> bool:
        """Whether the factory can have a toolkit for `cuda` without one on the machine."""
        return cuda.major in PYPI_COMPLETE_MAJORS or self.get(cuda) is not None


def _version(value: object, where: str) -> Version:
    try:
        return Version(str(value))
    except InvalidVersion:
        raise ConfigError(f"{where}: {value!r} is not a version") from None


def parse_toolkits(data: dict[str, Any], origin: str = "toolkits.toml") -> ToolkitTable:
    sources = {}
    for key, row in data.get("toolkit", {}).items():
        where = f"{origin} [toolkit.{key!r}]"
        try:
            source = ToolkitSource(
                cuda=_version(key, where),
                suite=str(row["suite"]),
                debs=tuple(str(d) for d in row["debs"]),
                wheels=tuple(str(w) for w in row["wheels"]),
                nvcc=_version(row["nvcc"], f"{where} nvcc"),
                host_gcc_max=int(row["host_gcc_max"]),
                sass=tuple(str(a) for a in row["sass"]),
            )
        except KeyError as missing:
            raise ConfigError(f"{where}: missing field {missing}; see the header of {origin}") from None
        if not all("=" in d for d in source.debs) or not source.debs:
            raise ConfigError(f"{where}: debs must be exact 'package=version' entries")
        sources[source.key] = source
    return ToolkitTable(sources)


@cache
def load_toolkits() -> ToolkitTable:
    text = resources.files("factory").joinpath("data/toolkits.toml").read_text()
    return parse_toolkits(tomllib.loads(text))
