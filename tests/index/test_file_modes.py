"""Published files are world-readable: a static export (hard links) is served by a web server as another user."""

from __future__ import annotations

import stat
from pathlib import Path

from fake_dists import write_wheel

from index_server.local import LocalIndex


def test_published_wheel_and_metadata_are_0644(tmp_path: Path) -> None:
    index = LocalIndex(tmp_path / "data")
    wheel = write_wheel(tmp_path / "wheels", "demo-pkg", "1.0")
    index.ingest(wheel)
    (record,) = index.files()
    stored = index.file_path(record)
    metadata = stored.with_name(stored.name + ".metadata")
    assert stat.S_IMODE(stored.stat().st_mode) == 0o644
    assert stat.S_IMODE(metadata.stat().st_mode) == 0o644
