"""The want store: one SQLite row per wanted tuple with its count, first and last report, and what served it.

Its own database file beside the catalog, so a report never changes the catalog's generation (which
would drop every cached Simple page). Bounded: a report of a new tuple is refused once the store holds
`max_rows` tuples, or `max_per_project` of one project; reports of known tuples still count.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path

from index_server.errors import Refused
from index_server.storage import sqlite
from index_server.wants import Want, WantKey

_SCHEMA = """
CREATE TABLE IF NOT EXISTS wants (
    project TEXT NOT NULL,
    release TEXT NOT NULL,
    torch TEXT NOT NULL,
    cuda TEXT NOT NULL,
    cxx11_abi INTEGER NOT NULL,
    python TEXT NOT NULL,
    platform TEXT NOT NULL,
    glibc TEXT,
    count INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    served_by TEXT,
    served_at TEXT,
    PRIMARY KEY (project, release, torch, cuda, cxx11_abi, python, platform)
);
"""
_KEY_COLUMNS = ("project", "release", "torch", "cuda", "cxx11_abi", "python", "platform")
_MAX_COUNT = 2**31 - 1


def _key_values(key: WantKey) -> tuple[str | int, ...]:
    return (key.project, key.release, key.torch, key.cuda, int(key.cxx11_abi), key.python, key.platform)


def _want(row: sqlite3.Row) -> Want:
    key = WantKey(
        project=row["project"],
        release=row["release"],
        torch=row["torch"],
        cuda=row["cuda"],
        cxx11_abi=bool(row["cxx11_abi"]),
        python=row["python"],
        platform=row["platform"],
    )
    return Want(
        key=key,
        count=row["count"],
        first_seen=datetime.fromisoformat(row["first_seen"]),
        last_seen=datetime.fromisoformat(row["last_seen"]),
        glibc=row["glibc"],
        served_by=row["served_by"],
        served_at=datetime.fromisoformat(row["served_at"]) if row["served_at"] else None,
    )


def _older_glibc(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return min(a, b, key=lambda v: tuple(int(x) for x in v.split(".")))


class WantStore:
    def __init__(self, path: Path, *, max_rows: int = 10_000, max_per_project: int = 1_000) -> None:
        self.path = path
        self.max_rows, self.max_per_project = max_rows, max_per_project
        self._lock = threading.Lock()
        sqlite.create(path, _SCHEMA)

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return sqlite.connect(self.path)

    def record(self, key: WantKey, glibc: str | None, now: datetime, served_by: str | None = None) -> Want:
        """Count one report of `key`; `served_by` names a file already serving it (a new row starts served).
        Raises Refused (429, want-limit) for a new tuple when the store is full."""
        where = " AND ".join(f"{c} = ?" for c in _KEY_COLUMNS)
        with self._lock, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(f"SELECT * FROM wants WHERE {where}", _key_values(key)).fetchone()
            stamp = now.isoformat()
            if row is None:
                total = db.execute("SELECT COUNT(*) FROM wants").fetchone()[0]
                mine = db.execute("SELECT COUNT(*) FROM wants WHERE project = ?", (key.project,)).fetchone()[0]
                if total >= self.max_rows or mine >= self.max_per_project:
                    raise Refused(
                        "want-limit",
                        f"this index keeps at most {self.max_rows} wanted tuples ({self.max_per_project} per project) "
                        "and is full; reports of tuples it already lists still count",
                        status=429,
                    )
                db.execute(
                    "INSERT INTO wants VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (*_key_values(key), glibc, 1, stamp, stamp, served_by, stamp if served_by else None),
                )
            else:
                db.execute(
                    f"UPDATE wants SET count = ?, last_seen = ?, glibc = ?, served_by = COALESCE(served_by, ?), "
                    f"served_at = COALESCE(served_at, ?) WHERE {where}",
                    (
                        min(row["count"] + 1, _MAX_COUNT),
                        max(stamp, row["last_seen"]),
                        _older_glibc(row["glibc"], glibc),
                        served_by,
                        stamp if served_by else None,
                        *_key_values(key),
                    ),
                )
            found = db.execute(f"SELECT * FROM wants WHERE {where}", _key_values(key)).fetchone()
        return _want(found)

    def wants(self, project: str | None = None) -> list[Want]:
        """Every want (of one project), most wanted first, then the most recently asked."""
        order = "ORDER BY count DESC, last_seen DESC, project, torch, python"
        with self._connect() as db:
            if project is None:
                rows = db.execute(f"SELECT * FROM wants {order}").fetchall()
            else:
                rows = db.execute(f"SELECT * FROM wants WHERE project = ? {order}", (project,)).fetchall()
        return [_want(r) for r in rows]

    def mark_served(self, project: str, filename: str, serves: Callable[[WantKey], bool], now: datetime) -> int:
        """Mark the project's unserved wants that `serves` accepts as served by `filename`; how many."""
        where = " AND ".join(f"{c} = ?" for c in _KEY_COLUMNS)
        marked = 0
        with self._lock, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            rows = db.execute("SELECT * FROM wants WHERE project = ? AND served_by IS NULL", (project,)).fetchall()
            for row in rows:
                key = _want(row).key
                if serves(key):
                    db.execute(
                        f"UPDATE wants SET served_by = ?, served_at = ? WHERE {where}",
                        (filename, now.isoformat(), *_key_values(key)),
                    )
                    marked += 1
        return marked
