"""The knowledge table: what PyTorch ships per torch minor (data/pytorch.toml), as typed values."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from factory.errors import ConfigError
from factory.plan.platform_tag import InvalidPlatformTag, PlatformTag


@dataclass(frozen=True, kw_only=True)
class TorchVariant:
    """One CUDA build of one torch release, as PyTorch publishes it."""

    torch: Version
    cuda: Version
    cxx11_abi: bool
    glibc_floor: str
    on_pypi: bool  # PyPI's plain `torch==X` is this build

    @property
    def platform(self) -> str:
        return PlatformTag.manylinux(self.glibc_floor).tag


@dataclass(frozen=True, kw_only=True)
class TorchMinor:
    minor: str
    version: Version
    cuda: tuple[Version, ...]
    pypi_cuda: Version
    cxx11_abi: bool
    glibc_floor: str
    pythons: tuple[str, ...]
    experimental_pythons: tuple[str, ...]
    variant_overrides: dict[str, dict[str, Any]]
    source: str

    def variant(self, cuda: Version) -> TorchVariant:
        if cuda not in self.cuda:
            shipped = ", ".join(str(c) for c in self.cuda)
            raise ConfigError(f"torch {self.minor} has no CUDA {cuda} build (PyTorch ships {shipped})")
        override = self.variant_overrides.get(str(cuda), {})
        return TorchVariant(
            torch=self.version,
            cuda=cuda,
            cxx11_abi=bool(override.get("cxx11_abi", self.cxx11_abi)),
            glibc_floor=str(override.get("glibc_floor", self.glibc_floor)),
            on_pypi=cuda == self.pypi_cuda,
        )

    def variants(self) -> list[TorchVariant]:
        return [self.variant(c) for c in self.cuda]


@dataclass(frozen=True)
class Knowledge:
    minors: dict[str, TorchMinor]
    tag_floors: dict[str, str] = field(default_factory=dict)  # legacy tag -> glibc torch's wheels need

    def minor(self, minor: str) -> TorchMinor:
        try:
            return self.minors[minor]
        except KeyError:
            known = ", ".join(self.minors)
            raise ConfigError(
                f"torch {minor} is not in the knowledge table (knows {known}); "
                "run `factory discover` and add it to factory/data/pytorch.toml"
            ) from None

    def pypi_cuda_major(self) -> dict[str, int]:
        """torch minor -> CUDA major of PyPI's own torch wheel (drives the index's root channel)."""
        return {m: t.pypi_cuda.major for m, t in self.minors.items()}


def torch_wheel_floor(platform: str, tag_floors: dict[str, str]) -> str | None:
    """The glibc floor of a torch x86_64 wheel from its platform tag: PEP 600's for a `manylinux_X_Y`
    tag, the table's [tag_floors] for a legacy one; None for other platforms or an unknown legacy tag."""
    try:
        tag = PlatformTag.parse(platform)
    except InvalidPlatformTag:
        return None
    if tag.arch != "x86_64" or tag.glibc is None:
        return None
    return tag_floors.get(tag.legacy) if tag.legacy else tag.floor


def _python_range(lo: str, hi: str) -> tuple[str, ...]:
    major, lo_minor = (int(x) for x in lo.split("."))
    hi_major, hi_minor = (int(x) for x in hi.split("."))
    if major != hi_major or hi_minor < lo_minor:
        raise ConfigError(f"bad python range [{lo!r}, {hi!r}]: expected ['3.A', '3.B'] with A <= B")
    return tuple(f"{major}.{m}" for m in range(lo_minor, hi_minor + 1))


def _version(value: object, where: str) -> Version:
    try:
        return Version(str(value))
    except InvalidVersion:
        raise ConfigError(f"{where}: {value!r} is not a version") from None


def parse_knowledge(data: dict[str, Any], origin: str = "pytorch.toml") -> Knowledge:
    minors: dict[str, TorchMinor] = {}
    for minor, row in data.get("torch", {}).items():
        where = f"{origin} [torch.{minor!r}]"
        try:
            version = _version(row["version"], f"{where} version")
            if f"{version.major}.{version.minor}" != minor:
                raise ConfigError(f"{where}: version {version} is not a {minor}.x release")
            pythons = _python_range(*row["python"])
            experimental = tuple(row.get("python_experimental", ()))
            minors[minor] = TorchMinor(
                minor=minor,
                version=version,
                cuda=tuple(_version(c, f"{where} cuda") for c in row["cuda"]),
                pypi_cuda=_version(row["pypi_cuda"], f"{where} pypi_cuda"),
                cxx11_abi=bool(row["cxx11_abi"]),
                glibc_floor=str(row["glibc_floor"]),
                pythons=pythons,
                experimental_pythons=experimental,
                variant_overrides=dict(row.get("variant", {})),
                source=str(row.get("source", "")),
            )
        except KeyError as missing:
            raise ConfigError(f"{where}: missing field {missing}; see the header of {origin}") from None
        if minors[minor].pypi_cuda not in minors[minor].cuda:
            raise ConfigError(f"{where}: pypi_cuda {row['pypi_cuda']} is not among its cuda variants")
    if not minors:
        raise ConfigError(f'{origin}: no [torch."X.Y"] tables')
    ordered = dict(sorted(minors.items(), key=lambda kv: Version(kv[0])))
    return Knowledge(ordered, {str(k): str(v) for k, v in data.get("tag_floors", {}).items()})


def load_knowledge(path: Path | None = None) -> Knowledge:
    if path is not None:
        return parse_knowledge(tomllib.loads(path.read_text()), str(path))
    return _default_knowledge()


@cache
def _default_knowledge() -> Knowledge:
    text = resources.files("factory").joinpath("data/pytorch.toml").read_text()
    return parse_knowledge(tomllib.loads(text))


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_knowledge(knowledge: Knowledge) -> str:
    """The TOML text of a knowledge table (`factory discover --write-knowledge`: the packaged table with
    PyPI's facts applied); parse_knowledge reads it back to an equal table."""
    out = [
        "# factory/data/pytorch.toml with the facts `factory discover` read from PyPI applied (written by\n"
        "# `factory discover --write-knowledge`); the packaged table's header explains the fields.\n",
        "\n[tag_floors]\n",
        *(f"{k} = {_toml(v)}\n" for k, v in knowledge.tag_floors.items()),
    ]
    for minor, row in knowledge.minors.items():
        out.append(f'\n[torch."{minor}"]\n')
        out.append(f"version = {_toml(str(row.version))}\n")
        out.append(f"cuda = {_toml([str(c) for c in row.cuda])}\n")
        out.append(f"pypi_cuda = {_toml(str(row.pypi_cuda))}\n")
        out.append(f"cxx11_abi = {_toml(row.cxx11_abi)}\n")
        out.append(f"glibc_floor = {_toml(row.glibc_floor)}\n")
        out.append(f"python = {_toml([row.pythons[0], row.pythons[-1]])}\n")
        if row.experimental_pythons:
            out.append(f"python_experimental = {_toml(list(row.experimental_pythons))}\n")
        for cuda, override in row.variant_overrides.items():
            out.append(f'variant."{cuda}" = {_toml(override)}\n')
        out.append(f"source = {_toml(row.source)}\n")
    return "".join(out)
