"""publish: put verified wheels and run reports into the index.

Locally this is the embedded index under --data, through the same ingest function the upload route
uses, so one code path validates every file whichever way it arrives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.errors import FactoryError
from factory.run.builds import PublishedBuild, by_tuple


class PublishError(FactoryError):
    """The index refused a file (its message says which rule and why)."""


class PublishConflict(PublishError):
    """The index holds a file of this name with other bytes (another publisher took the build number)."""


class IndexPublisher:
    """factory.run.matrix_run.Publisher over index_server.local.LocalIndex."""

    def __init__(self, data_dir: Path) -> None:
        from index_server.local import LocalIndex

        self._index = LocalIndex(data_dir)

    def published_builds(self) -> dict[str, list[PublishedBuild]]:
        return by_tuple((r.filename, r.build_info, r.yanked_reason is not None) for r in self._index.files())

    def publish(self, wheel: Path) -> str:
        from index_server.errors import FileConflict
        from index_server.errors import IndexError as IndexRefusal

        try:
            result = self._index.ingest(wheel)
        except FileConflict as err:
            raise PublishConflict(f"{wheel.name}: the index holds other bytes under this name: {err}") from err
        except IndexRefusal as err:
            raise PublishError(f"{wheel.name}: the index refused it: {err}") from err
        return str(result.filename)

    def yank(self, filename: str, reason: str) -> None:
        self._index.catalog.set_yanked(filename, reason)

    def publish_report(self, report: dict[str, Any], logs: dict[str, Path]) -> None:
        self._index.publish_report(report, logs)
