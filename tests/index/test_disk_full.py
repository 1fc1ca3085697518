"""A full disk during an upload: a clear 507 and nothing half-visible, injected at every write of an
upload (ENOSPC from fsync, the point where a filesystem reports it late) and on a real small tmpfs."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import TestClient
from hostile_builders import Member, WheelSpec
from test_hostile_corpus import corpus_settings, post

from index_server.app import create_app
from index_server.settings import Limits
from index_server.storage import files as storage
from index_server.storage.catalog import Catalog


def left_behind(data: Path) -> list[str]:
    rows = [f"row {r.filename}" for r in Catalog(data / "catalog.sqlite3").files()]
    return rows + [str(p) for p in (data / "files").rglob("*") if p.is_file()]


# The fsyncs of one wheel upload, in order: the upload spooled onto the data disk (then moved into place,
# not copied), the .metadata file, the .metadata file's folder, the wheel's folder after its rename.
FSYNC_POINTS = ["spool", "metadata-file", "metadata-folder", "final-rename"]


@pytest.mark.parametrize("failing", range(len(FSYNC_POINTS)), ids=FSYNC_POINTS)
def test_enospc_at_each_write_gives_507_and_leaves_nothing(
    failing: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    filename, body = WheelSpec().build_bytes()
    real_fsync, calls = os.fsync, []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == failing + 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    with TestClient(create_app(corpus_settings(data))) as client:
        monkeypatch.setattr(storage.os, "fsync", fsync)
        response = post(client, filename, body, {}, None)
        monkeypatch.undo()
        assert response.status_code == 507, response.text
        assert "disk is full" in response.text and filename in response.text
        assert left_behind(data) == []
        assert client.get("/simple/pkg/").status_code == 404
        assert client.get(f"/files/pkg/{filename}").status_code == 404
        assert post(client, filename, body, {}, None).status_code == 200  # space back: the retry is stored


def test_a_full_catalog_gives_507_and_removes_the_written_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    filename, body = WheelSpec().build_bytes()

    def full(*args: object) -> bool:
        raise sqlite3.OperationalError("database or disk is full")

    with TestClient(create_app(corpus_settings(data))) as client:
        monkeypatch.setattr(Catalog, "_insert", staticmethod(full))
        response = post(client, filename, body, {}, None)
        monkeypatch.undo()
        assert response.status_code == 507 and "disk is full" in response.text
        assert left_behind(data) == []


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_real_full_tmpfs_gives_507_and_leaves_nothing(small_tmpfs: Path) -> None:
    data = small_tmpfs / "data"
    settings = corpus_settings(data)
    settings = type(settings)(**{**settings.__dict__, "limits": Limits()})
    huge_name, huge = WheelSpec(
        version="2.0",
        members=[Member(name="pkg/__init__.py"), Member(name="pkg/blob.bin", data=os.urandom(2500 * 1024))],
    ).build_bytes()
    big_name, big = WheelSpec(
        members=[Member(name="pkg/__init__.py"), Member(name="pkg/blob.bin", data=os.urandom(1200 * 1024))]
    ).build_bytes()
    with TestClient(create_app(settings)) as client:
        response = post(client, huge_name, huge, {}, None)  # fills the disk while it is spooled
        assert response.status_code == 507, response.text
        assert "disk is full" in response.text
        assert left_behind(data) == []
        # 1.2 MB on a 2 MB disk: stored, because the spooled upload is moved into place, never copied
        assert post(client, big_name, big, {}, None).status_code == 200
