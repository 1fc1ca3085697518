"""LocalIndex: the embedded index under a data directory, used by the app and by `factory run` alike."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from index_server.admit.ingest import Ingestor, IngestResult
from index_server.pages.wanted import build_facts
from index_server.settings import IndexSettings
from index_server.storage.catalog import Catalog, FileRecord, now_utc
from index_server.storage.files import FileStore
from index_server.storage.reports import ReportStore
from index_server.storage.wants import WantStore
from index_server.wants import WantKey, fits

__all__ = ["IngestResult", "LocalIndex"]


class LocalIndex:
    """Files, catalog and reports under `data_dir`; every file enters through `ingest`."""

    def __init__(self, data_dir: Path, settings: IndexSettings | None = None) -> None:
        settings = settings or IndexSettings(data_dir=data_dir)
        self.settings = settings if settings.data_dir == data_dir else replace(settings, data_dir=data_dir)
        self.data_dir = data_dir
        self.store = FileStore(self.settings.files_dir)
        self.catalog = Catalog(self.settings.catalog_path)
        self.ingestor = Ingestor(self.store, self.catalog, self.settings.limits)
        self.reports = ReportStore(self.settings.reports_dir, self.catalog, self.store.tmp)
        self.wants = WantStore(
            self.settings.wants_path,
            max_rows=self.settings.max_wants,
            max_per_project=self.settings.max_wants_per_project,
        )

    def ingest(self, path: Path, filename: str | None = None) -> IngestResult:
        """Validate and store one wheel or sdist; an identical re-ingest is a no-op success.

        Raises InvalidDistribution (bad file), FileConflict (same name, other bytes), TooLarge. The wants
        the new file serves are marked served by it.
        """
        result = self.ingestor.ingest(path, filename)
        record = self.catalog.get(result.filename)
        if result.created and record is not None and record.yanked_reason is None:
            facts = build_facts(record)
            if facts is not None:
                self.wants.mark_served(record.project, record.filename, lambda key: fits(key, facts), now_utc())
        return result

    def serving(self, key: WantKey) -> str | None:
        """The newest stored wheel that serves `key`, if any."""
        found = [
            r
            for r in self.catalog.files(key.project)
            if r.yanked_reason is None and (facts := build_facts(r)) is not None and fits(key, facts)
        ]
        return max(found, key=lambda r: r.upload_time).filename if found else None

    def ingest_spooled(self, spooled: Path, filename: str, sha256: str) -> IngestResult:
        """`ingest` for an upload already written to a temporary of the store (moved, not copied)."""
        return self.ingestor.ingest_spooled(spooled, filename, sha256)

    def build_infos(self) -> list[dict[str, Any]]:
        """factory_build.json of every stored wheel that has one, plus its "filename"."""
        return [
            {**record.build_info, "filename": record.filename}
            for record in self.catalog.files()
            if record.build_info is not None
        ]

    def publish_report(self, report: dict[str, Any], logs: dict[str, Path]) -> None:
        self.reports.publish(report, logs)

    def files(self, project: str | None = None) -> list[FileRecord]:
        return self.catalog.files(project)

    def file_path(self, record: FileRecord) -> Path:
        return self.store.path(record.project, record.filename)
