"""The catalog: one SQLite database with a row per stored file and one per run report."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.utils import NormalizedName

from index_server.errors import UnknownFile
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
        return _record(row) if row else None

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
        return [NormalizedName(r["project"]) for r in rows]

    def files(self, project: str | None = None) -> list[FileRecord]:
        with self._connect() as db:
            if project is None:
                rows = db.execute("SELECT * FROM files ORDER BY project, filename").fetchall()
            else:
                rows = db.execute("SELECT * FROM files WHERE project = ? ORDER BY filename", (project,)).fetchall()
        return [_record(r) for r in rows]

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
