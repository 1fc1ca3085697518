"""ingest: the one function that validates and stores a file, used by both /legacy/ and LocalIndex."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import NormalizedName

from index_server.admit.distributions import inspect_distribution
from index_server.admit.names import check_filename
from index_server.errors import FileConflict, InsufficientStorage
from index_server.settings import Limits
from index_server.storage.catalog import Catalog, FileRecord, now_utc
from index_server.storage.files import FileStore, disk_full_is_507
from index_server.storage.fsck import METADATA_SUFFIX, recover

__all__ = ["METADATA_SUFFIX", "IngestResult", "Ingestor"]


@dataclass(frozen=True, kw_only=True)
class IngestResult:
    filename: str
    project: NormalizedName
    version: str
    sha256: str
    created: bool  # False: an identical file was already there (a no-op success)


class Ingestor:
    """Validate a file, then write it (and its .metadata) atomically, then commit the catalog row.

    Opening one clears what a crashed writer left (temporaries of dead processes, files whose row
    was never committed), under the catalog's write lock so no live writer is touched."""

    def __init__(self, store: FileStore, catalog: Catalog, limits: Limits) -> None:
        self.store = store
        self.catalog = catalog
        self.limits = limits
        recover(store, catalog)

    def ingest(self, source: Path, filename: str | None = None) -> IngestResult:
        filename = filename or source.name
        check_filename(filename)  # before a byte is written under that name
        with self.store.staged_copy(source, self.limits.max_upload_bytes, filename) as (staged, sha256):
            return self._admit(staged, filename, sha256)

    def ingest_spooled(self, spooled: Path, filename: str, sha256: str) -> IngestResult:
        """Like `ingest`, for a temporary of the store already written and hashed (an upload): moved into
        its stage folder, not copied."""
        check_filename(filename)
        with self.store.staged_move(spooled, filename) as staged:
            return self._admit(staged, filename, sha256)

    def _admit(self, staged: Path, filename: str, sha256: str) -> IngestResult:
        """Validate the staged file and store it (with its .metadata) under one catalog transaction."""
        existing = self.catalog.get(filename)
        if existing is not None:
            return self._same_or_conflict(existing, sha256)
        dist = inspect_distribution(staged, filename, self.limits)
        metadata_sha256 = hashlib.sha256(dist.metadata).hexdigest() if dist.filetype == "bdist_wheel" else None
        record = FileRecord(
            filename=filename,
            project=dist.project,
            version=str(dist.version),
            filetype=dist.filetype,
            python_tag=dist.python_tag,
            sha256=sha256,
            size=staged.stat().st_size,
            upload_time=now_utc(),
            requires_python=dist.requires_python,
            metadata_sha256=metadata_sha256,
            yanked_reason=None,
            build_info=dist.build_info,
        )
        written: list[Path] = []

        def write_files() -> None:
            if metadata_sha256 is not None:
                written.append(self.store.path(dist.project, filename + METADATA_SUFFIX))
                self.store.write_bytes(dist.project, filename + METADATA_SUFFIX, dist.metadata)
            written.append(self.store.path(dist.project, filename))
            self.store.commit(staged, dist.project, filename)

        def undo() -> None:
            for path in written:
                path.unlink(missing_ok=True)

        try:
            with disk_full_is_507(filename):
                existing = self.catalog.add_exclusive(record, write_files, undo)
        except sqlite3.OperationalError as err:
            if "full" not in str(err):
                raise
            raise InsufficientStorage(
                f"{filename}: the catalog's disk is full ({err}); nothing was stored. Free space and upload again"
            ) from None
        if existing is not None:
            return self._same_or_conflict(existing, sha256)
        return IngestResult(
            filename=filename, project=dist.project, version=str(dist.version), sha256=sha256, created=True
        )

    @staticmethod
    def _same_or_conflict(existing: FileRecord, sha256: str) -> IngestResult:
        if existing.sha256 != sha256:
            raise FileConflict(
                f"{existing.filename} already exists with other content (sha256 {existing.sha256}, "
                f"uploaded {sha256}); files are immutable: bump the version or the build label"
            )
        return IngestResult(
            filename=existing.filename,
            project=existing.project,
            version=existing.version,
            sha256=sha256,
            created=False,
        )
