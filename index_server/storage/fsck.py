"""fsck: check that the catalog and the files under `files/` agree, and repair what is safe to repair.

Problems found (kind: what it means):
  missing-file       a catalog row whose file is gone (the index lists a file it cannot serve)
  size-mismatch      a file whose size differs from its row
  digest-mismatch    a file whose sha256 differs from its row (corrupted after it was stored)
  metadata-missing   a wheel's .metadata file is gone
  metadata-mismatch  a wheel's .metadata file differs from the sha256 in its row
  orphan-file        a file with no row (a writer died between its rename and its commit)
  stray-temporary    a temporary whose writing process is gone
  outside-files      a row whose file resolves outside files/ (a symlink); reported, never touched
  symlink            a symlink among the project folders (the index makes none); reported, never followed
  bad-row            a catalog row that does not read back as the index writes rows (a path outside
                     files/, a size or time that is not one); never served, never repaired: someone
                     edited the catalog, and a person should look
Repair drops rows whose file is missing, removes orphans and stray temporaries, and rewrites a
.metadata file from its (intact) wheel. A corrupted file is never deleted by repair: its bytes may be
the only copy, and it is not the index's to judge which bytes were right; the report says what to do.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from index_server.errors import shown
from index_server.storage.catalog import Catalog, FileRecord
from index_server.storage.files import FileStore, remove, temp_owner_alive, write_atomic

METADATA_SUFFIX = ".metadata"
STALE_TEMP_S = 3600.0  # a temporary that names no process is stray once this old
_CHUNK = 1 << 20
_CORRUPT_FIX = "; restore it from a copy, or delete it, run --repair and publish it again"


@dataclass(frozen=True, kw_only=True)
class Problem:
    kind: str
    path: Path
    detail: str
    repairable: bool

    def line(self) -> str:
        fix = "" if self.repairable else " (not repaired automatically)"
        return f"{self.kind}: {self.path}: {self.detail}{fix}"


@dataclass(kw_only=True)
class FsckReport:
    checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    repaired: list[Problem] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not [p for p in self.problems if p not in self.repaired]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _check_row(store: FileStore, record: FileRecord) -> list[Problem]:
    path = store.path(record.project, record.filename)
    if (path.exists() or path.is_symlink()) and not store.inside(path):
        detail = f"resolves to {path.resolve()}, outside {store.root} (a symlink?); never followed by repair"
        return [Problem(kind="outside-files", path=path, detail=detail, repairable=False)]
    if not path.is_file():
        return [
            Problem(
                kind="missing-file",
                path=path,
                detail="listed in the catalog, not on disk; repair drops the row",
                repairable=True,
            )
        ]
    problems = []
    size = path.stat().st_size
    if size != record.size:
        problems.append(
            Problem(
                kind="size-mismatch",
                path=path,
                detail=f"{size} bytes, catalog says {record.size}{_CORRUPT_FIX}",
                repairable=False,
            )
        )
    elif (actual := _sha256(path)) != record.sha256:
        problems.append(
            Problem(
                kind="digest-mismatch",
                path=path,
                detail=f"sha256 {actual}, catalog says {record.sha256}{_CORRUPT_FIX}",
                repairable=False,
            )
        )
    if record.metadata_sha256 is not None:
        meta = path.with_name(path.name + METADATA_SUFFIX)
        if not meta.is_file():
            problems.append(
                Problem(kind="metadata-missing", path=meta, detail="repair rewrites it from the wheel", repairable=True)
            )
        elif _sha256(meta) != record.metadata_sha256:
            problems.append(
                Problem(
                    kind="metadata-mismatch",
                    path=meta,
                    detail=f"catalog says sha256 {record.metadata_sha256}; repair rewrites it from the wheel",
                    repairable=True,
                )
            )
    return problems


def _stray_temporaries(store: FileStore, now: float) -> list[Problem]:
    strays = []
    for entry in sorted(store.tmp.iterdir()):
        alive = temp_owner_alive(entry)
        if alive is False or (alive is None and now - entry.lstat().st_mtime > STALE_TEMP_S):
            strays.append(
                Problem(kind="stray-temporary", path=entry, detail="left by a writer that is gone", repairable=True)
            )
    return strays


def _orphans(store: FileStore, rows: dict[str, str | None]) -> list[Problem]:
    """Files on disk that no row owns (call with the catalog's write lock held)."""
    orphans = []
    for project in sorted(store.root.iterdir()):
        if project.is_symlink():  # the index makes no links: never followed, never removed
            detail = f"a symlink to {project.resolve()} among the projects; remove it by hand if it is not yours"
            orphans.append(Problem(kind="symlink", path=project, detail=detail, repairable=False))
            continue
        if project == store.tmp or not project.is_dir():
            continue
        for path in sorted(project.iterdir()):
            name = path.name
            owner = name.removesuffix(METADATA_SUFFIX)
            owned = owner in rows and (name == owner or rows[owner] is not None)
            if not owned:
                orphans.append(
                    Problem(
                        kind="orphan-file",
                        path=path,
                        detail="on disk with no catalog row; never listed",
                        repairable=True,
                    )
                )
    return orphans


def recover(store: FileStore, catalog: Catalog) -> list[Problem]:
    """Remove a crashed writer's debris (orphan files, dead writers' temporaries); returns what went."""
    with catalog.write_locked() as db:
        rows = {r["filename"]: r["metadata_sha256"] for r in db.execute("SELECT filename, metadata_sha256 FROM files")}
        debris = [p for p in _orphans(store, rows) if p.repairable] + [
            p for p in _stray_temporaries(store, time.time()) if temp_owner_alive(p.path) is False
        ]
        for problem in debris:
            remove(problem.path)
    return debris


def _bad_rows(catalog: Catalog) -> list[Problem]:
    return [
        Problem(
            kind="bad-row",
            path=catalog.path,
            detail=f"row {shown(row.filename, 80)}: {row.reason}; it is never served, check who edited the catalog",
            repairable=False,
        )
        for row in catalog.bad_rows()
    ]


def fsck(store: FileStore, catalog: Catalog, *, repair: bool = False) -> FsckReport:
    report = FsckReport()
    records = catalog.files()
    report.problems += _bad_rows(catalog)
    report.checked = len(records) + len(report.problems)
    for record in records:
        report.problems += _check_row(store, record)
    report.problems += _stray_temporaries(store, time.time())
    with catalog.write_locked() as db:
        rows = {r["filename"]: r["metadata_sha256"] for r in db.execute("SELECT filename, metadata_sha256 FROM files")}
        report.problems += _orphans(store, rows)
        if repair:
            by_path = {store.path(r.project, r.filename): r for r in records}
            for problem in report.problems:
                if problem.repairable and _repair(store, catalog, db, problem, by_path):
                    report.repaired.append(problem)
    return report


def _repair(
    store: FileStore, catalog: Catalog, db: sqlite3.Connection, problem: Problem, by_path: dict[Path, FileRecord]
) -> bool:
    if problem.kind == "missing-file":
        catalog.remove(db, problem.path.name)
        problem.path.with_name(problem.path.name + METADATA_SUFFIX).unlink(missing_ok=True)
        return True
    if problem.kind in ("orphan-file", "stray-temporary"):
        remove(problem.path)
        return True
    if problem.kind in ("metadata-missing", "metadata-mismatch"):
        wheel = problem.path.with_name(problem.path.name.removesuffix(METADATA_SUFFIX))
        record = by_path.get(wheel)
        if record is None or _sha256(wheel) != record.sha256:
            return False
        with zipfile.ZipFile(wheel) as zf:
            names = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            data = zf.read(names[0]) if len(names) == 1 else b""
        if hashlib.sha256(data).hexdigest() != record.metadata_sha256:
            return False
        write_atomic(problem.path, data, tmp_dir=store.tmp)
        return True
    return False


def fsck_data_dir(data_dir: Path, *, repair: bool = False) -> FsckReport:
    """fsck of the index under `data_dir` (which must hold a catalog); opens nothing that recovers."""
    from index_server.settings import IndexSettings

    settings = IndexSettings(data_dir=data_dir, root_cuda_major={})
    if not settings.catalog_path.is_file():
        raise FileNotFoundError(f"{data_dir}: no index here ({settings.catalog_path.name} is missing)")
    return fsck(FileStore(settings.files_dir), Catalog(settings.catalog_path), repair=repair)
