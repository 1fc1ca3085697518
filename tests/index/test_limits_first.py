"""Limits before parsing: a zip's directory counted from its end record before zipfile lists it, tar
headers capped while read, the upload's Content-Length judged before its body, the body spooled onto the
data disk (never the system's temp folder)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import socket
import subprocess
import tarfile
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import TOKEN, TestClient
from fake_upstream import LiveApp
from hostile_builders import Member, WheelSpec, zip_directory
from test_hostile_corpus import corpus_settings, post

from index_server.app import create_app
from index_server.errors import RefusedTooLarge
from index_server.local import LocalIndex
from index_server.settings import IndexSettings, Limits

MIB = 1 << 20


def peak_while(work: Callable[[], object]) -> tuple[int, BaseException | None]:
    """Peak bytes Python allocated while `work` ran, and what it raised."""
    tracemalloc.start()
    raised = None
    try:
        work()
    except BaseException as err:  # the refusal is what the caller checks
        raised = err
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, raised


def test_a_200k_entry_central_directory_is_refused_before_zipfile_lists_it(tmp_path: Path) -> None:
    path = tmp_path / "pkg-1.0-py3-none-any.whl"
    path.write_bytes(zip_directory(200_000))  # ~11 MB of directory; zipfile makes 200k ZipInfo objects of it
    index = LocalIndex(tmp_path / "data")
    peak, raised = peak_while(lambda: index.ingest(path))
    assert isinstance(raised, RefusedTooLarge) and "[archive-members]" in str(raised), raised
    assert peak < 8 * MIB, f"{peak / MIB:.0f} MiB allocated before the refusal"


def test_a_central_directory_larger_than_the_limit_is_refused_from_the_end_record(tmp_path: Path) -> None:
    path = tmp_path / "pkg-1.0-py3-none-any.whl"
    path.write_bytes(zip_directory(20_000, name=b"pkg/" + b"n" * 200 + b".py"))  # 4.4 MB of directory
    settings = IndexSettings(data_dir=tmp_path / "data", limits=Limits(max_directory_bytes=MIB))
    with pytest.raises(RefusedTooLarge, match=r"\[archive-directory\]"):
        LocalIndex(settings.data_dir, settings).ingest(path)


def test_a_32_mib_tar_name_is_refused_while_its_header_is_read(tmp_path: Path) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("pkg-1.0/" + "a" * (32 * MIB))
        tar.addfile(info, io.BytesIO(b""))
    path = tmp_path / "pkg-1.0.tar.gz"
    path.write_bytes(gzip.compress(raw.getvalue(), compresslevel=1))
    index = LocalIndex(tmp_path / "data")
    peak, raised = peak_while(lambda: index.ingest(path))
    assert isinstance(raised, RefusedTooLarge) and "[tar-header-size]" in str(raised), raised
    assert len(str(raised)) < 1000
    assert peak < 8 * MIB, f"{peak / MIB:.0f} MiB allocated before the refusal"


@pytest.mark.integration
def test_a_content_length_over_the_limit_is_refused_before_the_body(tmp_path: Path) -> None:
    app = LiveApp(create_app(corpus_settings(tmp_path / "data")))
    try:
        import base64

        auth = base64.b64encode(f"__token__:{TOKEN}".encode()).decode()
        head = (
            "POST /legacy/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Basic {auth}\r\n"
            "Content-Type: multipart/form-data; boundary=xyz\r\n"
            f"Content-Length: {3 << 30}\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", app.port), timeout=20) as sock:
            sock.sendall(head.encode() + b"--xyz\r\n")  # a few bytes of the 3 GiB it announced
            reply = sock.recv(4096).decode(errors="replace")
        assert reply.startswith("HTTP/1.1 413"), reply
        assert "[upload-size]" in reply
    finally:
        app.stop()


@pytest.fixture
def unusable_system_temp(tmp_path: Path) -> Iterator[Path]:
    """The system's temp folder made useless for the request (a folder that does not exist)."""
    saved, tempfile.tempdir = tempfile.tempdir, str(tmp_path / "no-such-tmp")
    yield tmp_path / "no-such-tmp"
    tempfile.tempdir = saved


def test_an_upload_never_touches_the_system_temp_folder(tmp_path: Path, unusable_system_temp: Path) -> None:
    blob = Member(name="pkg/blob.bin", data=os.urandom(3 * MIB))  # past any in-memory spool
    filename, body = WheelSpec(members=[Member(name="pkg/__init__.py"), blob]).build_bytes()
    settings = corpus_settings(tmp_path / "data")
    with TestClient(create_app(type(settings)(**{**settings.__dict__, "limits": Limits()}))) as client:
        response = post(client, filename, body, {}, None)
        assert response.status_code == 200, response.text
        served = client.get(f"/files/pkg/{filename}")
        assert hashlib.sha256(served.content).hexdigest() == hashlib.sha256(body).hexdigest()


@pytest.fixture
def full_system_temp(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny-tmp"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)")
    saved, tempfile.tempdir = tempfile.tempdir, str(mount)
    try:
        yield mount
    finally:
        tempfile.tempdir = saved
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_system_temp_folder_does_not_fail_an_upload(tmp_path: Path, full_system_temp: Path) -> None:
    blob = Member(name="pkg/blob.bin", data=os.urandom(2 * MIB))
    filename, body = WheelSpec(members=[Member(name="pkg/__init__.py"), blob]).build_bytes()
    with TestClient(create_app(corpus_settings(tmp_path / "data"))) as client:
        response = post(client, filename, body, {}, None)
        assert response.status_code == 200, response.text
