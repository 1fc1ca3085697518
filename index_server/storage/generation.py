"""Which state of the catalog a process has seen: one cheap check per request, across processes.

SQLite's `PRAGMA data_version` on a connection kept open for the purpose changes whenever any other
connection (another worker, `factory run`, `factory yank`, this process's own write connections) commits
to the database. It reads the WAL index header only, so a check costs a few microseconds and needs no
cooperation from the writers: every write to the catalog, whichever code path made it, is seen.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class CatalogGeneration:
    """`current()` returns a number that changes after every commit another connection makes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def current(self) -> int:
        with self._lock:
            if self._db is None:
                # autocommit (isolation_level None): each PRAGMA is its own read of the latest state.
                self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            row = self._db.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
