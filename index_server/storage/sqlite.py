"""The index's SQLite files (catalog, wants): created in WAL mode once, then one connection per operation."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock


def create(path: Path, schema: str) -> None:
    """Create the database at `path` (WAL mode) with `schema`, or open what is there.

    Switching a new database to WAL needs an exclusive lock, and SQLite answers a second opener "database is
    locked" at once instead of waiting: a server and a `factory run` starting on one fresh data folder must
    not fail, so the first open is serialized across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path.with_name(path.name + ".init.lock")).acquire(poll_interval=0.005), connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(schema)


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection with rows by name, committing when the block ends (rolling back on an exception)."""
    db = sqlite3.connect(path, timeout=30)
    db.row_factory = sqlite3.Row
    try:
        with db:
            yield db
    finally:
        db.close()
