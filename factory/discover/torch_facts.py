"""What PyPI says about torch: per minor, the newest release with manylinux x86_64 CPython wheels (pure).

From the release listings: its CPython range (cpXY tags; free-threaded `cp313t` wheels are not counted)
and its glibc floor (the platform tag, legacy tags read through the knowledge table's [tag_floors]).
From that release's METADATA: the CUDA of PyPI's torch, read off its Requires-Dist
(`nvidia-cuda-runtime-cu12==12.8.90`, `nvidia-cuda-runtime==13.x`, `cuda-toolkit[...]==13.0.3`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.parser import Parser
from typing import NamedTuple

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from factory.discover.pypi import ReleaseFile
from factory.plan.knowledge import torch_wheel_floor
from factory.plan.spec import minor_of
from index_server.contract import python_of_tag

_CUDA_RUNTIME = re.compile(r"^nvidia-cuda-runtime(-cu\d+)?$")
_LINUX_X86_64 = {
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "sys_platform": "linux",
    "os_name": "posix",
    "extra": "",
}


@dataclass(frozen=True, kw_only=True)
class TorchRelease:
    """The newest final release of one torch minor that has manylinux x86_64 CPython wheels."""

    minor: str
    version: Version
    pythons: tuple[str, ...]
    glibc_floor: str
    probe: ReleaseFile  # the wheel whose METADATA is read (cp311 where there is one)
    probe_python: str


@dataclass(frozen=True, kw_only=True)
class TorchFacts:
    release: TorchRelease
    pypi_cuda: Version | None  # None: no CUDA runtime among the Requires-Dist
    evidence: str  # the Requires-Dist line that gave pypi_cuda
    via: str  # how the METADATA was read: "pep658" or "range"


class LinuxWheel(NamedTuple):
    python: str  # "3.11"
    floor: str  # "2.28"
    build: tuple[int, str] | tuple[()]  # the wheel's build tag; pip prefers the highest
    file: ReleaseFile


def linux_wheels(files: tuple[ReleaseFile, ...], tag_floors: dict[str, str]) -> list[LinuxWheel]:
    """Each non-yanked CPython (not free-threaded) manylinux x86_64 wheel of a release (legacy tags
    read through the knowledge table's [tag_floors])."""
    out = []
    for f in files:
        if f.packagetype != "bdist_wheel" or f.yanked:
            continue
        try:
            _, _, build, tags = parse_wheel_filename(f.filename)
        except InvalidWheelFilename:
            continue
        found = [
            (python, floor)
            for t in tags
            if t.abi == t.interpreter
            for python in [python_of_tag(t.interpreter)]
            for floor in [torch_wheel_floor(t.platform, tag_floors)]
            if python is not None and floor is not None
        ]
        if found:
            floor = min((fl for _, fl in found), key=Version)
            out.append(LinuxWheel(found[0][0], floor, build, f))
    return out


def torch_releases(
    releases: dict[Version, tuple[ReleaseFile, ...]], since: str, tag_floors: dict[str, str]
) -> dict[str, TorchRelease]:
    """Per minor >= `since`, its newest final release with manylinux x86_64 wheels."""
    newest: dict[str, TorchRelease] = {}
    for version in sorted(releases):
        if version.is_prerelease or version.is_devrelease or version.local or version < Version(since):
            continue
        wheels = linux_wheels(releases[version], tag_floors)
        if not wheels:
            continue
        pythons = tuple(sorted({w.python for w in wheels}, key=Version))
        probe_python = "3.11" if "3.11" in pythons else pythons[0]
        probe = max((w for w in wheels if w.python == probe_python), key=lambda w: w.build)
        newest[minor_of(version)] = TorchRelease(
            minor=minor_of(version),
            version=version,
            pythons=pythons,
            glibc_floor=probe.floor,
            probe=probe.file,
            probe_python=probe_python,
        )
    return dict(sorted(newest.items(), key=lambda kv: Version(kv[0])))


def cuda_from_metadata(text: str, python: str) -> tuple[Version | None, str]:
    """The CUDA major.minor a torch wheel's Requires-Dist pins for Linux x86_64, and the line saying so."""
    env = {**_LINUX_X86_64, "python_version": python, "python_full_version": f"{python}.0"}
    runtime: tuple[Version, str] | None = None
    toolkit: tuple[Version, str] | None = None
    for raw in Parser().parsestr(text, headersonly=True).get_all("Requires-Dist") or []:
        try:
            req = Requirement(raw)
        except InvalidRequirement:
            continue
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        name = canonicalize_name(req.name)
        pins = [s.version for s in req.specifier if s.operator in ("==", "===")]
        if not pins:
            continue
        pinned = Version(pins[0].removesuffix(".*"))
        found = (Version(f"{pinned.major}.{pinned.minor}"), raw.strip())
        if _CUDA_RUNTIME.match(name) and runtime is None:
            runtime = found
        elif name == "cuda-toolkit" and toolkit is None:
            toolkit = found
    chosen = runtime or toolkit
    return (chosen[0], chosen[1]) if chosen else (None, "")
