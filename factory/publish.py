"""publish: put verified wheels and run reports into the index.

Locally this is the embedded index under --data, through the same ingest function the upload route
uses, so one code path validates every file whichever way it arrives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.errors import FactoryError


class PublishError(FactoryError):
    """The index refused a file (its message says which rule and why)."""


class IndexPublisher:
    """factory.run.Publisher over index_server.local.LocalIndex."""

    def __init__(self, data_dir: Path) -> None:
        from index_server.local import LocalIndex

        self._index = LocalIndex(data_dir)

    def published_keys(self) -> set[str]:
        return {str(info["input_key"]) for info in self._index.build_infos() if info.get("input_key")}

    def publish(self, wheel: Path) -> str:
        from index_server.errors import IndexError as IndexRefusal

        try:
            result = self._index.ingest(wheel)
        except IndexRefusal as err:
            raise PublishError(f"{wheel.name}: the index refused it: {err}") from err
        return str(result.filename)

    def publish_report(self, report: dict[str, Any], logs: dict[str, Path]) -> None:
        self._index.publish_report(report, logs)
