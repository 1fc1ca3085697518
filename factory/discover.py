"""discover: PyPI's facts about torch (factory.torch_facts) and the hosted packages against the
knowledge table and the matrix (pure): what differs, what the table would become, which tuples change.
The fetching is done by the caller through `factory.pypi`; everything here takes and returns values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from packaging.utils import NormalizedName
from packaging.version import Version

from factory.knowledge import Knowledge, TorchMinor
from factory.matrix import MatrixConfig
from factory.plan import plan
from factory.pypi import ReleaseFile
from factory.recipes import Recipe
from factory.spec import BuildSpec
from factory.torch_facts import TorchFacts

# Exit codes of `factory discover`, so a scheduled job can act on them.
UP_TO_DATE = 0
TABLE_OUT_OF_DATE = 3  # factory/data/pytorch.toml disagrees with PyPI (maybe also new sdists)
NEW_SDISTS = 4  # the table agrees, but a hosted package has a release matrix.toml does not list


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


def new_sdists(
    matrix: MatrixConfig, releases: dict[NormalizedName, dict[Version, tuple[ReleaseFile, ...]]]
) -> dict[NormalizedName, list[Version]]:
    """Final releases with a non-yanked sdist, newer than every version matrix.toml lists."""
    out: dict[NormalizedName, list[Version]] = {}
    for entry in matrix.packages:
        newest = max(entry.versions)
        out[entry.name] = [
            v
            for v, files in sorted(releases.get(entry.name, {}).items())
            if v > newest
            and not (v.is_prerelease or v.is_devrelease)
            and any(f.packagetype == "sdist" and not f.yanked for f in files)
        ]
    return out


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
    versions: dict[NormalizedName, list[Version]],
) -> TupleChanges:
    """Plan the full matrix twice: as it is, and with PyPI's facts and the new sdists added."""
    grown = dataclasses.replace(
        matrix,
        packages=tuple(
            dataclasses.replace(e, versions=(*e.versions, *versions.get(e.name, ()))) for e in matrix.packages
        ),
    )
    old = {s.id: s for s in plan(matrix, before, recipes).include}
    new = {s.id: s for s in plan(grown, after, recipes).include}
    return TupleChanges(
        added=[s for i, s in new.items() if i not in old],
        removed=[s for i, s in old.items() if i not in new],
        rebuilt=[s for i, s in new.items() if i in old and (s.torch, s.platform) != (old[i].torch, old[i].platform)],
    )


@dataclass(frozen=True, kw_only=True)
class Discovery:
    """Everything `factory discover` found, and what it means for the table and the plan."""

    facts: dict[str, TorchFacts]
    differences: list[Difference]
    listed: dict[NormalizedName, list[Version]]  # versions matrix.toml lists, per hosted package
    sdists: dict[NormalizedName, list[Version]]  # newer sdists on PyPI
    changes: TupleChanges

    @property
    def exit_code(self) -> int:
        if self.differences:
            return TABLE_OUT_OF_DATE
        return NEW_SDISTS if any(self.sdists.values()) else UP_TO_DATE

    def to_json(self) -> dict[str, Any]:
        return {
            "up_to_date": self.exit_code == UP_TO_DATE,
            "exit_code": self.exit_code,
            "differences": [d.to_json() for d in self.differences],
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
            "sdists": [
                {
                    "package": str(name),
                    "listed": [str(v) for v in self.listed.get(name, [])],
                    "new": [str(v) for v in new],
                }
                for name, new in self.sdists.items()
            ],
            "tuples": self.changes.to_json(),
        }
