"""The catalog: one SQLite database with a row per stored file and one per run report.

A row is served only when it reads back as written: a PEP 503 project, a file name that is one path
segment, an integer size, a sha256, an ISO upload time, a JSON object (or nothing) as its build record.
A row edited into anything else (by hand, or by whoever reached the disk) is left out of every page
and every export, and `bad_rows` names it for fsck; nothing it holds becomes a path.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.utils import NormalizedName
from packaging.version import InvalidVersion, Version

from index_server.errors import UnknownFile, shown
from index_server.storage import sqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    filename TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    filetype TEXT NOT NULL,
    python_tag TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    upload_time TEXT NOT NULL,
    requires_python TEXT,
    metadata_sha256 TEXT,
    yanked_reason TEXT,
    build_info TEXT
);
CREATE INDEX IF NOT EXISTS files_project ON files(project);
CREATE TABLE IF NOT EXISTS reports (
    run_id TEXT PRIMARY KEY,
    finished TEXT NOT NULL,
    body TEXT NOT NULL
);
"""


@dataclass(frozen=True, kw_only=True)
class FileRecord:
    filename: str
    project: NormalizedName
    version: str
    filetype: str
    python_tag: str
    sha256: str
    size: int
    upload_time: datetime
    requires_python: str | None
    metadata_sha256: str | None
    yanked_reason: str | None  # None: not yanked; "" yanked without a reason
    build_info: dict[str, Any] | None


_NORMALIZED = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_FILENAME = re.compile(r"[A-Za-z0-9_+!-][A-Za-z0-9._+!-]{0,199}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def is_normalized_project(text: str) -> bool:
    """True for a project name in PEP 503 form (what rows and the URLs of files carry)."""
    return len(text) <= 100 and _NORMALIZED.fullmatch(text) is not None


@dataclass(frozen=True)
class BadRow:
    """A files row that does not read back as the index writes rows, and why."""

    filename: str
    reason: str


def _row_problem(row: sqlite3.Row) -> str | None:
    """Why a files row cannot be served as it stands (None: it can)."""
    project, filename = row["project"], row["filename"]
    if not isinstance(project, str) or not is_normalized_project(project):
        return f"project {shown(project, 60)} is not a PEP 503 name"
    if not isinstance(filename, str) or not _FILENAME.fullmatch(filename) or filename == "..":
        return f"file name {shown(filename, 60)} is not a single safe path segment"
    try:
        Version(row["version"])
    except (InvalidVersion, TypeError):
        return f"version {shown(row['version'], 60)} is not PEP 440"
    if row["filetype"] not in ("bdist_wheel", "sdist") or not isinstance(row["python_tag"], str):
        return "its file type or python tag is not one the index writes"
    for key in ("requires_python", "yanked_reason"):
        if row[key] is not None and not isinstance(row[key], str):
            return f"{key} is not text"
    if not isinstance(row["size"], int) or row["size"] < 0:
        return f"size {shown(row['size'], 40)} is not a byte count"
    for key in ("sha256", "metadata_sha256"):
        if row[key] is not None and not (isinstance(row[key], str) and _SHA256.fullmatch(row[key])):
            return f"{key} {shown(row[key], 80)} is not a sha256"
    try:
        record = _record(row)
    except (ValueError, TypeError) as err:  # upload time, version text, build record JSON
        return f"unreadable ({type(err).__name__}: {shown(str(err), 80)})"
    if record.build_info is not None and not isinstance(record.build_info, dict):
        return "its build record is not a JSON object"
    return None


def _readable(rows: list[sqlite3.Row]) -> list[FileRecord]:
    return [_record(r) for r in rows if _row_problem(r) is None]


def _record(row: sqlite3.Row) -> FileRecord:
    return FileRecord(
        filename=row["filename"],
        project=NormalizedName(row["project"]),
        version=row["version"],
        filetype=row["filetype"],
        python_tag=row["python_tag"],
        sha256=row["sha256"],
        size=row["size"],
        upload_time=datetime.fromisoformat(row["upload_time"]),
        requires_python=row["requires_python"],
        metadata_sha256=row["metadata_sha256"],
        yanked_reason=row["yanked_reason"],
        build_info=json.loads(row["build_info"]) if row["build_info"] else None,
    )


def now_utc() -> datetime:
    return datetime.now(UTC)


class Catalog:
    """Thread-safe access to the SQLite catalog (one connection per operation, WAL mode)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        sqlite.create(path, _SCHEMA)

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return sqlite.connect(self.path)

    def get(self, filename: str) -> FileRecord | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM files WHERE filename = ?", (filename,)).fetchone()
        return _record(row) if row and _row_problem(row) is None else None

    def add_exclusive(
        self, record: FileRecord, write_files: Callable[[], None], undo: Callable[[], None] | None = None
    ) -> FileRecord | None:
        """Insert `record` unless its filename exists, calling `write_files` first, all under one
        IMMEDIATE transaction so concurrent processes serialize. Returns the existing row, or None
        when `record` was added. If `write_files`, the insert or the commit fails, nothing is
        committed and `undo` runs while the write lock is still held."""
        with self._lock, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT * FROM files WHERE filename = ?", (record.filename,)).fetchone()
            if row is not None:
                return _record(row)
            try:
                write_files()
                self._insert(db, record)
                db.commit()
            except BaseException:
                if undo is not None:
                    undo()
                db.rollback()
                raise
        return None

    @contextmanager
    def write_locked(self) -> Iterator[sqlite3.Connection]:
        """Hold the database's write lock (no ingest can be between its file write and its row)."""
        with self._lock, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            yield db

    def remove(self, db: sqlite3.Connection, filename: str) -> None:
        """Drop one row inside a `write_locked` transaction."""
        db.execute("DELETE FROM files WHERE filename = ?", (filename,))

    @staticmethod
    def _insert(db: sqlite3.Connection, record: FileRecord) -> bool:
        cursor = db.execute(
            "INSERT OR IGNORE INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                record.filename,
                record.project,
                record.version,
                record.filetype,
                record.python_tag,
                record.sha256,
                record.size,
                record.upload_time.isoformat(),
                record.requires_python,
                record.metadata_sha256,
                record.yanked_reason,
                json.dumps(record.build_info, sort_keys=True) if record.build_info else None,
            ),
        )
        return cursor.rowcount == 1

    def projects(self) -> list[NormalizedName]:
        with self._connect() as db:
            rows = db.execute("SELECT DISTINCT project FROM files ORDER BY project").fetchall()
        return [NormalizedName(p) for r in rows if isinstance(p := r["project"], str) and is_normalized_project(p)]

    def files(self, project: str | None = None) -> list[FileRecord]:
        """Every servable row (of `project`); rows that do not read back are left out (see bad_rows)."""
        with self._connect() as db:
            if project is None:
                rows = db.execute("SELECT * FROM files ORDER BY project, filename").fetchall()
            else:
                rows = db.execute("SELECT * FROM files WHERE project = ? ORDER BY filename", (project,)).fetchall()
        return _readable(rows)

    def bad_rows(self) -> list[BadRow]:
        """The rows `files` leaves out, each with the reason."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM files ORDER BY rowid").fetchall()
        return [BadRow(str(r["filename"]), problem) for r in rows if (problem := _row_problem(r)) is not None]

    def set_yanked(self, filename: str, reason: str | None) -> None:
        """Yank (reason "" or text) or unyank (None) one file."""
        with self._lock, self._connect() as db:
            cursor = db.execute("UPDATE files SET yanked_reason = ? WHERE filename = ?", (reason, filename))
            if cursor.rowcount != 1:
                raise UnknownFile(f"{filename}: no such file on the index; `factory serve` lists files at /")

    def add_report(self, run_id: str, finished: str, body: dict[str, Any]) -> None:
        with self._lock, self._connect() as db:
            db.execute("INSERT OR REPLACE INTO reports VALUES (?,?,?)", (run_id, finished, json.dumps(body)))

    def reports(self) -> list[dict[str, Any]]:
        """All run reports, oldest first."""
        with self._connect() as db:
            rows = db.execute("SELECT body FROM reports ORDER BY finished, run_id").fetchall()
        return [json.loads(r["body"]) for r in rows]
