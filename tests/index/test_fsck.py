"""`factory fsck`: a clean store, a corrupted file, a row whose file is gone, crash debris; and repair."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fake_dists import sdist_bytes, write_wheel

from factory.cli import main as factory_main
from index_server.local import LocalIndex
from index_server.sentinel_backend import message as sentinel_message
from index_server.storage.files import temp_prefix


def _store(tmp_path: Path) -> tuple[Path, LocalIndex]:
    data = tmp_path / "data"
    local = LocalIndex(data)
    local.ingest(write_wheel(tmp_path / "w", "pkg", "1.0"))
    local.ingest(write_wheel(tmp_path / "w", "pkg", "2.0"))
    name, body = sdist_bytes("pkg", "1.0")
    (tmp_path / name).write_bytes(body)
    local.ingest(tmp_path / name)
    return data, local


def fsck(data: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = factory_main(["fsck", "--data", str(data), *extra])
    return code, capsys.readouterr().out


def dead_pid() -> str:
    """The temp-name owner prefix of a process of this host that has exited."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return temp_prefix().replace(str(os.getpid()), done.stdout.strip(), 1).removesuffix("-")


def test_clean_store_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = _store(tmp_path)
    code, out = fsck(data, capsys)
    assert code == 0 and "3 files checked, 0 problems" in out and out.rstrip().endswith("clean")


def test_a_corrupted_file_is_found_and_never_deleted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = _store(tmp_path)
    victim = data / "files" / "pkg" / "pkg-1.0-py3-none-any.whl"
    body = bytearray(victim.read_bytes())
    body[len(body) // 2] ^= 0xFF  # same size, other bytes
    victim.write_bytes(bytes(body))
    code, out = fsck(data, capsys)
    assert code == 1 and f"digest-mismatch: {victim}:" in out and "1 problems" in out
    code, out = fsck(data, capsys, "--repair")
    assert code == 1 and "not repaired automatically" in out and victim.exists()


def test_a_row_whose_file_is_gone_is_found_and_dropped_by_repair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, local = _store(tmp_path)
    victim = data / "files" / "pkg" / "pkg-2.0-py3-none-any.whl"
    victim.unlink()
    code, out = fsck(data, capsys)
    assert code == 1 and f"missing-file: {victim}:" in out
    code, out = fsck(data, capsys, "--repair")
    assert code == 0 and "[repaired]" in out and "0 left: clean" in out
    assert [r.filename for r in local.files()] == ["pkg-1.0-py3-none-any.whl", "pkg-1.0.tar.gz"]
    assert not victim.with_name(victim.name + ".metadata").exists()
    assert fsck(data, capsys)[0] == 0


def test_debris_metadata_and_size_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = _store(tmp_path)
    files = data / "files"
    orphan = files / "pkg" / "pkg-3.0-py3-none-any.whl"
    orphan.write_bytes(b"half written")
    stray = files / ".tmp" / f"{dead_pid()}-abc.upload"
    stray.write_bytes(b"partial")
    live = files / ".tmp" / f"{temp_prefix()}live.upload"
    live.write_bytes(b"being written")
    metadata = files / "pkg" / "pkg-1.0-py3-none-any.whl.metadata"
    good_metadata = metadata.read_bytes()
    metadata.write_bytes(b"Name: evil\n")
    short = files / "pkg" / "pkg-1.0.tar.gz"
    short.write_bytes(short.read_bytes()[:-1])
    code, out = fsck(data, capsys)
    assert code == 1
    for line in (f"orphan-file: {orphan}", f"stray-temporary: {stray}", f"metadata-mismatch: {metadata}"):
        assert line in out
    assert f"size-mismatch: {short}" in out and str(live) not in out
    code, out = fsck(data, capsys, "--repair")
    assert code == 1 and "4 problems, 3 repaired, 1 left" in out  # the truncated sdist stays, reported
    assert not orphan.exists() and not stray.exists() and live.exists()
    assert metadata.read_bytes() == good_metadata


def test_fsck_of_a_folder_without_an_index_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert factory_main(["fsck", "--data", str(tmp_path / "nothing")]) == 2
    assert "no index here" in capsys.readouterr().err
    assert not (tmp_path / "nothing").exists()


def test_opening_an_index_clears_a_dead_writers_debris_only(tmp_path: Path) -> None:
    data, _ = _store(tmp_path)
    files = data / "files"
    orphan = files / "pkg" / "pkg-3.0-py3-none-any.whl"
    orphan.write_bytes(b"renamed, but the row was never committed")
    stray = files / ".tmp" / f"{dead_pid()}-x.stage"
    stray.mkdir()
    live = files / ".tmp" / f"{temp_prefix()}y.upload"
    live.write_bytes(b"mine")
    other_host = files / ".tmp" / "123.00000000-z.upload"  # another replica's: not this host's to judge
    other_host.write_bytes(b"theirs")
    LocalIndex(data)
    assert not orphan.exists() and not stray.exists() and live.exists() and other_host.exists()
    assert len(LocalIndex(data).files()) == 3


def test_sentinel_names_force_reinstall_and_its_fixes() -> None:
    config = {"project": "mamba-ssm", "page": "http://h/project/mamba-ssm/", "builds": []}
    message = sentinel_message(config, "/venv/bin/python", {"python": "3.12", "torch": None}, "", "nothing")
    assert "--force-reinstall" in message and "resolve torch again" in message
    assert "--no-deps" in message and "--extra-index-url" in message and "download.pytorch.org" in message
