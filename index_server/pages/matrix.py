"""The build matrix of one project (torch minor × CUDA × Python): pure, from files and run reports."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from packaging.version import InvalidVersion, Version

from index_server.contract import BuildLabel, Outcome, python_of_tag
from index_server.storage.catalog import FileRecord


@dataclass(frozen=True, order=True)
class RowKey:
    torch: Version
    cuda: Version
    abi: int

    @property
    def label(self) -> str:
        return f"torch {self.torch} · CUDA {self.cuda} · abi{self.abi}"


_PYTHON = re.compile(r"\d+\.\d+")
MISSING = "missing"  # a cell no run report or file speaks of
ANY_TORCH = "*"  # a dropped combination that holds for every torch (e.g. a release whose sdist cannot build)
# The matrix's view of every release at once: per torch row and Python, the newest release with a wheel there
# (what pip installs for that torch), else the newest release any run reported on
NEWEST = "newest"


@dataclass
class Cell:
    status: str  # an Outcome of RUN_OUTCOMES, or MISSING
    file: FileRecord | None = None
    tuple_id: str | None = None
    run_id: str | None = None
    has_log: bool = False
    cause: str | None = None
    message: str | None = None
    stage: str | None = None
    release: str = ""


@dataclass(frozen=True)
class DroppedRow:
    """A combination the factory's plan left out, with its reason (a run report's "dropped")."""

    version: str
    torch: str
    cuda: str | None
    python: str | None
    reason: str

    def applies(self, torch: str | None, cuda: str | None, python: str | None) -> bool:
        """Whether this left-out combination speaks of that torch minor, CUDA (major or major.minor) and
        Python; None asks nothing, and a field the row leaves open (every torch, any Python) matches."""
        if torch and self.torch not in (torch, ANY_TORCH):
            return False
        if cuda and self.cuda and not _cuda_matches(self.cuda, cuda):
            return False
        return not (python and self.python and self.python != python)


@dataclass(frozen=True)
class ReleaseLine:
    """One release as seen through the page's filters: wheels here, builds that failed, and why not."""

    version: str
    wheels: int
    failed: int
    reasons: list[str]


@dataclass
class Matrix:
    project: str
    version: str | None
    versions: list[str]
    pythons: list[str]
    rows: dict[RowKey, dict[str, Cell]] = field(default_factory=dict)
    other_files: list[FileRecord] = field(default_factory=list)
    cells: dict[tuple[str, RowKey, str], Cell] = field(default_factory=dict)  # every release's
    dropped: list[DroppedRow] = field(default_factory=list)
    releases: list[ReleaseLine] = field(default_factory=list)

    def dropped_reason(self, key: RowKey, python: str) -> str | None:
        """Why the plan left this empty cell out (torch 2.15 has no CPython 3.10 wheels): the reason of the
        shown release, in the newest view of the newest release dropped there; None if no plan said."""
        for row in self.dropped:  # newest release first
            if self.version == NEWEST and row.torch == ANY_TORCH:
                continue  # an old release whose sdist cannot build does not explain an empty cell of every release
            if self.version in (NEWEST, row.version) and row.applies(str(key.torch), str(key.cuda), python):
                return row.reason
        return None


def _key_of_spec(spec: Any) -> tuple[str, RowKey, str] | None:
    """The cell a spec fills, None for one that does not parse (whatever a catalog row holds)."""
    if not isinstance(spec, Mapping) or not _PYTHON.fullmatch(str(spec.get("python"))):
        return None
    try:
        key = RowKey(Version(str(spec["torch"])), Version(str(spec["cuda"])), int(bool(spec["cxx11_abi"])))
        return str(Version(str(spec["version"])).public), key, str(spec["python"])
    except (KeyError, InvalidVersion, ValueError, TypeError):
        return None


def _key_of_file(record: FileRecord) -> tuple[str, RowKey, str] | None:
    if isinstance(record.build_info, dict) and isinstance(record.build_info.get("spec"), dict):
        found = _key_of_spec(record.build_info["spec"])
        if found:
            return found
    label = BuildLabel.parse(record.version)
    python = python_of_tag(record.python_tag)
    if label is None or python is None:
        return None
    key = RowKey(Version(label.torch_minor), label.cuda, int(label.cxx11_abi))
    return Version(record.version).public, key, python


def build_matrix(
    project: str,
    records: Sequence[FileRecord],
    reports: Sequence[Mapping[str, Any]],
    version: str | None = None,
) -> Matrix:
    """Cells of `version` (default: the newest release with any build or report; NEWEST: per row and Python,
    the newest release with a wheel there, else the newest one reported on)."""
    entries: dict[tuple[str, RowKey, str], Cell] = {}
    other: list[FileRecord] = []
    dropped: dict[tuple[str, str, str | None, str | None], DroppedRow] = {}
    for report in reports:  # oldest first: later runs overwrite earlier statuses
        if not isinstance(report, Mapping):
            continue
        tuples = [
            t for t in report.get("tuples") or [] if isinstance(t, Mapping) and isinstance(t.get("spec"), Mapping)
        ]
        rows = [d for row in report.get("dropped") or [] if (d := _dropped_row(project, row)) is not None]
        touches = any(str(t["spec"].get("package", "")) == project for t in tuples)
        if "dropped" in report and (rows or touches):  # the newest plan that speaks of the project says why
            dropped = {(d.version, d.torch, d.cuda, d.python): d for d in rows}
        for row in tuples:
            spec = row["spec"]
            if str(spec.get("package", "")) != project:
                continue
            found = _key_of_spec(spec)
            if found is None:
                continue
            cell = entries.setdefault(found, Cell(status=MISSING, release=found[0]))
            if row.get("outcome") == Outcome.UNCHANGED and cell.has_log:
                continue  # a run that built nothing keeps the link to the log of the build it skipped
            cell.status = str(row.get("outcome", MISSING))
            cell.tuple_id, cell.run_id = row.get("id"), str(report.get("run_id"))
            cell.has_log = bool(row.get("log"))
            cell.cause, cell.message, cell.stage = row.get("cause"), row.get("message"), row.get("stage")
    for record in records:
        found = _key_of_file(record)
        if found is None:
            other.append(record)
            continue
        cell = entries.setdefault(found, Cell(status=Outcome.PUBLISHED, release=found[0]))
        if cell.file is None or record.upload_time > cell.file.upload_time:
            cell.file = record
        if cell.status in (MISSING, Outcome.SKIPPED, Outcome.UNCHANGED):
            cell.status = Outcome.PUBLISHED
    built_versions = sorted({v for v, _, _ in entries}, key=Version, reverse=True)
    versions = sorted(set(built_versions) | {d.version for d in dropped.values()}, key=Version, reverse=True)
    chosen = version if version in versions or (version == NEWEST and versions) else None
    chosen = chosen or (built_versions[0] if built_versions else None)
    matrix = Matrix(
        project=project,
        version=chosen,
        versions=versions,
        pythons=[],
        other_files=other,
        cells=entries,
        dropped=sorted(dropped.values(), key=lambda d: (Version(d.version), d.torch), reverse=True),
    )
    pythons: set[str] = set()
    for (v, key, python), cell in sorted(entries.items(), key=lambda kv: (kv[0][1], kv[0][2], Version(kv[0][0]))):
        if chosen == NEWEST:  # releases ascend within a cell: a newer one replaces, unless it has no wheel there
            held = matrix.rows.get(key, {}).get(python)
            if held is not None and _has_wheel(held) and not _has_wheel(cell):
                continue
        elif v != chosen:
            continue
        pythons.add(python)
        matrix.rows.setdefault(key, {})[python] = cell
    matrix.pythons = sorted(pythons, key=Version)
    matrix.rows = dict(sorted(matrix.rows.items(), reverse=True))
    matrix.releases = release_lines(matrix, torch=None, cuda=None, python=None)
    return matrix


def _has_wheel(cell: Cell) -> bool:
    return cell.file is not None and cell.file.yanked_reason is None


def _dropped_row(project: str, row: Mapping[str, Any]) -> DroppedRow | None:
    try:
        if str(row["package"]) != project:
            return None
        version = str(Version(str(row["version"])).public)
        cuda, python = row.get("cuda"), row.get("python")
        return DroppedRow(
            version=version,
            torch=str(row["torch"]),
            cuda=None if cuda is None else str(cuda),
            python=None if python is None else str(python),
            reason=str(row["reason"]),
        )
    except (KeyError, InvalidVersion, TypeError, AttributeError):
        return None


def _cuda_matches(cuda: str, wanted: str) -> bool:
    return cuda == wanted or cuda.split(".")[0] == wanted


def release_lines(matrix: Matrix, *, torch: str | None, cuda: str | None, python: str | None) -> list[ReleaseLine]:
    """Every release with what it has for the filters: its wheels, its failed builds, and the plan's
    reasons for the combinations it left out (a filter the reason does not name counts as matching)."""
    lines = []
    for version in matrix.versions:
        wheels = failed = 0
        for (v, key, py), cell in matrix.cells.items():
            if v != version or (torch and str(key.torch) != torch) or (python and py != python):
                continue
            if cuda and not _cuda_matches(str(key.cuda), cuda):
                continue
            wheels += _has_wheel(cell)
            failed += cell.status == Outcome.FAILED
        reasons = []
        for d in matrix.dropped:
            if d.version != version or not d.applies(torch, cuda, python):
                continue
            text = f"{'every torch' if d.torch == ANY_TORCH else 'torch ' + d.torch}: {d.reason}"
            if text not in reasons:
                reasons.append(text)
        lines.append(ReleaseLine(version=version, wheels=wheels, failed=failed, reasons=reasons))
    return lines


def filter_matrix(matrix: Matrix, *, torch: str | None, cuda: str | None, python: str | None) -> Matrix:
    """Keep rows whose torch minor / CUDA major.minor or major, and columns whose Python, match."""
    rows = {
        key: cells
        for key, cells in matrix.rows.items()
        if (not torch or str(key.torch) == torch) and (not cuda or str(key.cuda) == cuda or str(key.cuda.major) == cuda)
    }
    pythons = [p for p in matrix.pythons if not python or p == python]
    return Matrix(
        project=matrix.project,
        version=matrix.version,
        versions=matrix.versions,
        pythons=pythons,
        rows={k: {p: c for p, c in cells.items() if p in pythons} for k, cells in rows.items()},
        other_files=matrix.other_files,
        cells=matrix.cells,
        dropped=matrix.dropped,
        releases=release_lines(matrix, torch=torch, cuda=cuda, python=python),
    )
