"""What a want is: the tuple a sentinel found no build for, which build serves it, and the plan's verdicts.

A want names a hosted project, the release specifier the user asked for ("" for any), the user's torch
release, its CUDA and C++ ABI, the CPython and the platform. The factory plans; the index only looks its
verdicts up: `factory serve` hands in a `WantPlan`, the table of what the full matrix's knowledge can build
(every torch build of the knowledge table × every CPython × every release the matrix names), and `judge`
reads it. The factory's own planner (factory/plan/wanted.py) reads the same table through `judge`, so the
page and the plan cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version


def abi_words(cxx11_abi: bool) -> str:
    return "C++11 ABI" if cxx11_abi else "pre-C++11 ABI"


@dataclass(frozen=True, kw_only=True, order=True)
class WantKey:
    """The tuple asked for; one row of the want store per key."""

    project: str  # normalized
    release: str  # a specifier set as the user wrote it, normalized ("" for any release)
    torch: str  # the torch release, public part ("2.14.1")
    cuda: str  # the CUDA of that torch ("13.0")
    cxx11_abi: bool
    python: str  # "3.12"
    platform: str  # "linux_x86_64", or "unknown"

    @property
    def torch_minor(self) -> str:
        version = Version(self.torch)
        return f"{version.major}.{version.minor}"

    @property
    def cuda_major(self) -> int:
        return int(self.cuda.split(".")[0])

    @property
    def python_tag(self) -> str:
        return "cp" + self.python.replace(".", "")

    @property
    def label(self) -> str:
        """'torch 2.14 + CUDA 13.0 + C++11 ABI + cp312', the words the sentinel uses."""
        return f"torch {self.torch_minor} + CUDA {self.cuda} + {abi_words(self.cxx11_abi)} + {self.python_tag}"

    def admits(self, version: str) -> bool:
        """Whether the release specifier admits `version` (pre-releases included: the user named them)."""
        if not self.release:
            return True
        try:
            return SpecifierSet(self.release).contains(Version(version).public, prereleases=True)
        except (InvalidSpecifier, InvalidVersion):
            return False


@dataclass(frozen=True, kw_only=True)
class Want:
    """A stored want: its key and what the store counted."""

    key: WantKey
    count: int
    first_seen: datetime
    last_seen: datetime
    glibc: str | None = None  # the oldest glibc a report named (a wheel must not need more)
    served_by: str | None = None  # the file that serves it, once published
    served_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.key.project,
            "release": self.key.release,
            "torch": self.key.torch,
            "cuda": self.key.cuda,
            "cxx11_abi": self.key.cxx11_abi,
            "python": self.key.python,
            "platform": self.key.platform,
            "glibc": self.glibc,
            "count": self.count,
            "first_seen": self.first_seen.isoformat(timespec="seconds"),
            "last_seen": self.last_seen.isoformat(timespec="seconds"),
            "served_by": self.served_by,
            "served_at": self.served_at.isoformat(timespec="seconds") if self.served_at else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Want:
        """A want as `to_json` wrote it (what `GET /wants/` answers); KeyError/ValueError when it is not one."""
        key = WantKey(
            project=str(data["project"]),
            release=str(data.get("release") or ""),
            torch=str(Version(str(data["torch"])).public),
            cuda=str(data["cuda"]),
            cxx11_abi=bool(data["cxx11_abi"]),
            python=str(data["python"]),
            platform=str(data.get("platform") or "unknown"),
        )
        served_at = data.get("served_at")
        return cls(
            key=key,
            count=int(data["count"]),
            first_seen=datetime.fromisoformat(str(data["first_seen"])),
            last_seen=datetime.fromisoformat(str(data["last_seen"])),
            glibc=data.get("glibc"),
            served_by=data.get("served_by"),
            served_at=datetime.fromisoformat(str(served_at)) if served_at else None,
        )


@dataclass(frozen=True, kw_only=True)
class BuildFacts:
    """What a published wheel (or a planned tuple) was built for, as far as serving a want goes."""

    project: str
    version: str
    torch_minor: str
    cuda: str  # the toolkit, "13.0"
    cxx11_abi: bool
    python: str
    exact_torch: str | None = None  # "2.6.0+cu126" where the wheel pins that one torch build


def fits(key: WantKey, build: BuildFacts) -> bool:
    """Whether `build` installs for the want: same torch minor, CUDA major (a newer toolkit of one major
    works with torch builds of older minors of it), ABI and CPython, a release the specifier admits, and
    for an exact-pinned build the very torch build the user has."""
    if build.project != key.project or build.torch_minor != key.torch_minor or build.python != key.python:
        return False
    if build.cxx11_abi != key.cxx11_abi or int(build.cuda.split(".")[0]) != key.cuda_major:
        return False
    if build.exact_torch is not None:
        public, _, local = build.exact_torch.partition("+")
        if public != key.torch or local != "cu" + key.cuda.replace(".", ""):
            return False
    return key.admits(build.version)


BUILDABLE = -1  # WantPlan.entries value: the plan builds this combination


@dataclass(frozen=True, kw_only=True)
class Verdict:
    buildable: bool
    reason: str = ""  # why not, when not
    release: str | None = None  # the release the plan builds for it (the newest the specifier admits)


@dataclass(frozen=True, kw_only=True)
class WantPlan:
    """The factory's verdicts on every combination a want can name, computed by `factory serve`.

    `torch_builds`: torch minor -> "CUDA/ABI" (e.g. "13.0/1") of every build the knowledge table has ->
    "" when the matrix builds for it, else the reason not. `entries`: "project|release|minor|cuda|abi|python"
    -> BUILDABLE or an index into `reasons` (a release the matrix drops whole has the key
    "project|release|*"). `releases`: project -> the releases the matrix builds, newest first.
    """

    platform: str = "linux_x86_64"
    releases: dict[str, list[str]] = field(default_factory=dict)
    torch_builds: dict[str, dict[str, str]] = field(default_factory=dict)
    entries: dict[str, int] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "releases": self.releases,
            "torch_builds": self.torch_builds,
            "entries": self.entries,
            "reasons": self.reasons,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WantPlan:
        return cls(
            platform=str(data.get("platform", "linux_x86_64")),
            releases={str(k): [str(r) for r in v] for k, v in data.get("releases", {}).items()},
            torch_builds={
                str(k): {str(c): str(r) for c, r in v.items()} for k, v in data.get("torch_builds", {}).items()
            },
            entries={str(k): int(v) for k, v in data.get("entries", {}).items()},
            reasons=[str(r) for r in data.get("reasons", [])],
        )


def entry_key(project: str, release: str, minor: str, cuda: str, cxx11_abi: bool, python: str) -> str:
    return f"{project}|{release}|{minor}|{cuda}|{int(cxx11_abi)}|{python}"


def judge(key: WantKey, plan: WantPlan) -> Verdict:
    """Whether the plan can build the want, for the newest release it admits, or why not."""
    if key.platform not in (plan.platform, "unknown"):
        return Verdict(buildable=False, reason=f"the factory builds {plan.platform} wheels only, not {key.platform}")
    releases = plan.releases.get(key.project, [])
    if not releases:
        return Verdict(buildable=False, reason=f"matrix.toml builds no release of {key.project}")
    admitted = [r for r in releases if key.admits(r)]
    if not admitted:
        shown = ", ".join(releases[:6]) + (", ..." if len(releases) > 6 else "")
        return Verdict(buildable=False, reason=f"matrix.toml builds {key.project} {shown}; none is {key.release}")
    minor = key.torch_minor
    builds = plan.torch_builds.get(minor)
    if builds is None:
        known = sorted(plan.torch_builds, key=Version)
        span = f"{known[0]}–{known[-1]}" if known else "none"
        return Verdict(buildable=False, reason=f"torch {minor} is not in the factory's knowledge table (it has {span})")
    variant = f"{key.cuda}/{int(key.cxx11_abi)}"
    if variant not in builds:
        same_cuda = [v for v in builds if v.startswith(key.cuda + "/")]
        if same_cuda:
            return Verdict(
                buildable=False,
                reason=f"PyTorch's torch {minor}+cu{key.cuda.replace('.', '')} uses the "
                f"{abi_words(not key.cxx11_abi)}; a torch with the {abi_words(key.cxx11_abi)} was built elsewhere",
            )
        shipped = ", ".join(sorted({v.split("/")[0] for v in builds}, key=Version))
        return Verdict(
            buildable=False, reason=f"PyTorch ships no CUDA {key.cuda} build of torch {minor} (it ships {shipped})"
        )
    if builds[variant]:
        return Verdict(buildable=False, reason=builds[variant])
    first_reason = ""
    for release in admitted:
        whole = plan.entries.get(f"{key.project}|{release}|*")
        found = plan.entries.get(entry_key(key.project, release, minor, key.cuda, key.cxx11_abi, key.python))
        if whole is None and found == BUILDABLE:
            return Verdict(buildable=True, release=release)
        code = whole if whole is not None else found
        if not first_reason:
            first_reason = (
                f"{key.project} {release}: {plan.reasons[code]}"
                if code is not None and 0 <= code < len(plan.reasons)
                else f"no torch {minor} wheels for CPython {key.python} in the knowledge table"
            )
    return Verdict(buildable=False, reason=first_reason)
