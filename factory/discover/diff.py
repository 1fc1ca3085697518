"""diff: PyPI's facts about torch (factory.discover.torch_facts) and the hosted packages against the
knowledge table, the releases table (data/releases.toml) and the matrix (pure): what differs, what the
tables would become, which tuples change. For each hosted package: each final release with an sdist
(file, sha256, Requires-Python), against the releases table that planning expands matrix.toml's
policies against.
The fetching is done by the caller through `factory.discover.pypi`; everything here takes and returns values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version

from factory.discover.pypi import ReleaseFile
from factory.discover.torch_facts import TorchFacts
from factory.plan.expand import plan
from factory.plan.knowledge import Knowledge, TorchMinor
from factory.plan.matrix import MatrixConfig
from factory.plan.recipes import Recipe
from factory.plan.releases import Release, ReleaseTable
from factory.plan.spec import BuildSpec

# Exit codes of `factory discover`, so a scheduled job can act on them.
UP_TO_DATE = 0
TABLE_OUT_OF_DATE = 3  # factory/data/pytorch.toml or factory/data/releases.toml disagrees with PyPI


def python_span(pythons: tuple[str, ...] | list[str]) -> str:
    ordered = sorted(pythons, key=Version)
    if not ordered:
        return "none"
    minors = [Version(p).minor for p in ordered]
    if minors == list(range(minors[0], minors[-1] + 1)):
        return ordered[0] if len(ordered) == 1 else f"{ordered[0]}–{ordered[-1]}"
    return ", ".join(ordered)


@dataclass(frozen=True, kw_only=True)
class Difference:
    minor: str
    field: str  # "minor", "version", "pypi_cuda", "python", "glibc_floor"
    table: str | None
    pypi: str | None
    note: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def compare(knowledge: Knowledge, facts: dict[str, TorchFacts]) -> list[Difference]:
    out: list[Difference] = []
    for minor in sorted(set(knowledge.minors) | set(facts), key=Version):
        row, fact = knowledge.minors.get(minor), facts.get(minor)
        if row is None and fact is not None:
            note = "new torch minor on PyPI: add it to pytorch.toml with the CUDA variants of PyTorch's index"
            out.append(Difference(minor=minor, field="minor", table=None, pypi=str(fact.release.version), note=note))
            continue
        if row is None:
            continue
        if fact is None:
            note = "PyPI has no final release of it with manylinux x86_64 CPython wheels"
            out.append(Difference(minor=minor, field="minor", table=str(row.version), pypi=None, note=note))
            continue
        out.extend(_row_differences(row, fact))
    return out


def _row_differences(row: TorchMinor, fact: TorchFacts) -> list[Difference]:
    rel = fact.release
    diffs: list[tuple[str, str, str, str]] = []
    if rel.version != row.version:
        newer = rel.version > row.version
        diffs.append(
            (
                "version",
                str(row.version),
                str(rel.version),
                "newer patch release" if newer else "PyPI's newest is older",
            )
        )
    if fact.pypi_cuda is None:
        diffs.append(("pypi_cuda", str(row.pypi_cuda), "none", f"{rel.probe.filename} pins no CUDA runtime"))
    elif fact.pypi_cuda != row.pypi_cuda:
        extra = "" if fact.pypi_cuda in row.cuda else f"; {fact.pypi_cuda} is not among the table's variants"
        diffs.append(("pypi_cuda", str(row.pypi_cuda), str(fact.pypi_cuda), f"{fact.evidence}{extra}"))
    listed = set(row.pythons) | set(row.experimental_pythons)
    if set(rel.pythons) != listed:
        gone = sorted(listed - set(rel.pythons), key=Version)
        new = sorted(set(rel.pythons) - listed, key=Version)
        parts = ([f"no cp wheels for {', '.join(gone)}"] if gone else []) + (
            [f"new wheels for {', '.join(new)}"] if new else []
        )
        diffs.append(("python", python_span(tuple(listed)), python_span(rel.pythons), "; ".join(parts)))
    table_floor = row.variant(row.pypi_cuda).glibc_floor
    if rel.glibc_floor != table_floor:
        diffs.append(("glibc_floor", table_floor, rel.glibc_floor, f"tag of {rel.probe.filename}"))
    return [Difference(minor=row.minor, field=f, table=t, pypi=p, note=n) for f, t, p, n in diffs]


def updated_knowledge(knowledge: Knowledge, facts: dict[str, TorchFacts]) -> Knowledge:
    """The table with PyPI's facts applied, in memory. A new minor gets PyPI's own CUDA variant only
    (the others are on PyTorch's index, which discovery does not read) and its predecessor's ABI, so
    the tuples it adds are a lower bound."""
    minors: dict[str, TorchMinor] = {}
    previous: TorchMinor | None = None
    for minor in sorted(set(knowledge.minors) | set(facts), key=Version):
        row, fact = knowledge.minors.get(minor), facts.get(minor)
        if fact is None:
            if row is not None:
                minors[minor] = previous = row
            continue
        rel, cuda = fact.release, fact.pypi_cuda
        if row is None:
            if cuda is None or previous is None:
                continue  # nothing to plan it with
            row = dataclasses.replace(
                previous,
                minor=minor,
                cuda=(cuda,),
                pypi_cuda=cuda,
                variant_overrides={},
                experimental_pythons=(),
                source="factory discover (PyPI only)",
            )
        cuda = cuda or row.pypi_cuda
        floor_override = "glibc_floor" in row.variant_overrides.get(str(cuda), {})
        row = dataclasses.replace(
            row,
            version=rel.version,
            pypi_cuda=cuda,
            cuda=tuple(sorted({*row.cuda, cuda})),
            pythons=tuple(p for p in rel.pythons if p not in row.experimental_pythons),
            glibc_floor=row.glibc_floor if floor_override else rel.glibc_floor,
        )
        minors[minor] = previous = row
    return dataclasses.replace(knowledge, minors=minors)


# --- the hosted packages' releases, against the releases table (factory/data/releases.toml) -------------


def releases_from_pypi(
    package: NormalizedName, files: dict[Version, tuple[ReleaseFile, ...]], previous: tuple[Release, ...] = ()
) -> tuple[Release, ...]:
    """Each final release with a non-yanked sdist, as a table row. Whether the sdist holds CUDA sources is
    carried over from `previous` where the sdist is the same file; otherwise it is unknown (None)."""
    known = {(r.version, r.sha256): r.cuda_sources for r in previous}
    out = []
    for version, release_files in sorted(files.items()):
        if version.is_prerelease or version.is_devrelease:
            continue
        sdist = next((f for f in release_files if f.packagetype == "sdist" and not f.yanked), None)
        if sdist is None:
            continue
        out.append(
            Release(
                package=package,
                version=version,
                sdist=sdist.filename,
                sha256=sdist.sha256,
                requires_python=SpecifierSet(sdist.requires_python),
                cuda_sources=known.get((version, sdist.sha256)),
            )
        )
    return tuple(out)


@dataclass(frozen=True, kw_only=True)
class ReleaseDifference:
    package: str
    version: str
    field: str  # "release" (new on PyPI), "gone" (no longer on PyPI), "sdist", "requires_python"
    table: str | None
    pypi: str | None
    note: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def release_differences(table: ReleaseTable, fresh: ReleaseTable) -> list[ReleaseDifference]:
    """What PyPI lists (`fresh`) that the table does not, per package of `fresh`."""
    out: list[ReleaseDifference] = []
    for package, rows in fresh.items():
        have = {r.version: r for r in table.get(package, ())}
        now = {r.version: r for r in rows}
        for version in sorted(set(have) | set(now)):
            out += [
                ReleaseDifference(package=package, version=str(version), field=f, table=was, pypi=got, note=note)
                for f, was, got, note in _release_diffs(have.get(version), now.get(version))
            ]
    return out


def _release_diffs(old: Release | None, new: Release | None) -> list[tuple[str, str | None, str | None, str]]:
    if old is None:
        assert new is not None
        return [("release", None, new.sdist, "new release on PyPI: add it with `factory discover --write-releases`")]
    if new is None:
        return [("gone", old.sdist, None, "PyPI no longer lists a non-yanked sdist of it")]
    diffs: list[tuple[str, str | None, str | None, str]] = []
    if (old.sdist, old.sha256) != (new.sdist, new.sha256):
        note = f"the sdist changed on PyPI (sha256 {old.sha256[:12]}… → {new.sha256[:12]}…)"
        diffs.append(("sdist", old.sdist, new.sdist, note))
    if old.requires_python != new.requires_python:
        diffs.append(("requires_python", str(old.requires_python), str(new.requires_python), "Requires-Python changed"))
    return diffs


@dataclass(frozen=True)
class TupleChanges:
    added: list[BuildSpec] = field(default_factory=list)
    removed: list[BuildSpec] = field(default_factory=list)
    rebuilt: list[BuildSpec] = field(default_factory=list)  # same id, new torch release or floor

    def to_json(self) -> dict[str, list[str]]:
        return {k: [s.id for s in getattr(self, k)] for k in ("added", "removed", "rebuilt")}


def tuple_changes(
    matrix: MatrixConfig,
    before: Knowledge,
    after: Knowledge,
    recipes: dict[NormalizedName, Recipe],
    releases_before: ReleaseTable,
    releases_after: ReleaseTable,
) -> TupleChanges:
    """Plan the full matrix twice: against the tables as they are, and with PyPI's facts applied (new torch
    releases, and the releases matrix.toml's policies select among PyPI's)."""
    old = {s.id: s for s in plan(matrix, before, recipes, releases=releases_before).include}
    new = {s.id: s for s in plan(matrix, after, recipes, releases=releases_after).include}
    return TupleChanges(
        added=[s for i, s in new.items() if i not in old],
        removed=[s for i, s in old.items() if i not in new],
        rebuilt=[s for i, s in new.items() if i in old and (s.torch, s.platform) != (old[i].torch, old[i].platform)],
    )


@dataclass(frozen=True, kw_only=True)
class Discovery:
    """Everything `factory discover` found, and what it means for the tables and the plan."""

    facts: dict[str, TorchFacts]
    differences: list[Difference]
    release_differences: list[ReleaseDifference]
    releases: ReleaseTable  # the hosted packages' releases as PyPI lists them now
    planned: dict[NormalizedName, list[Version]]  # the releases matrix.toml's policies select from PyPI's
    changes: TupleChanges

    @property
    def exit_code(self) -> int:
        return TABLE_OUT_OF_DATE if self.differences or self.release_differences else UP_TO_DATE

    def to_json(self) -> dict[str, Any]:
        return {
            "up_to_date": self.exit_code == UP_TO_DATE,
            "exit_code": self.exit_code,
            "differences": [d.to_json() for d in self.differences],
            "release_differences": [d.to_json() for d in self.release_differences],
            "torch": {
                minor: {
                    "version": str(f.release.version),
                    "pypi_cuda": None if f.pypi_cuda is None else str(f.pypi_cuda),
                    "python": list(f.release.pythons),
                    "glibc_floor": f.release.glibc_floor,
                    "wheel": f.release.probe.filename,
                    "metadata_via": f.via,
                    "evidence": f.evidence,
                }
                for minor, f in self.facts.items()
            },
            "releases": {
                str(name): {
                    "on_pypi": [str(r.version) for r in rows],
                    "planned": [str(v) for v in self.planned.get(name, [])],
                    "new": [d.version for d in self.release_differences if d.package == name and d.field == "release"],
                }
                for name, rows in self.releases.items()
            },
            "tuples": self.changes.to_json(),
        }
