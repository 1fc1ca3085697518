"""Disk lines: free space and folder sizes, measured on a temporary folder."""

from __future__ import annotations

from pathlib import Path

from factory.run.disk import disk_line, folder_bytes, parse_du


def test_folder_sizes_count_every_file_once_per_path(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one").write_bytes(b"x" * 1000)
    (tmp_path / "a" / "b" / "two").write_bytes(b"y" * 2000)
    (tmp_path / "a" / "b" / "link").hardlink_to(tmp_path / "a" / "one")  # a copy in a container
    (tmp_path / "a" / "sym").symlink_to(tmp_path / "a" / "b" / "two")  # not followed
    assert folder_bytes(tmp_path / "a") == 4000
    assert folder_bytes(tmp_path / "missing") == 0


def test_a_disk_line_reads_back(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"z" * 25_000_000)
    line = disk_line("container-test", df=[tmp_path], du=[tmp_path, tmp_path / "nothing"])
    assert line.startswith(f"disk container-test: df {tmp_path} ") and " GB free of " in line
    assert parse_du(line) == {str(tmp_path): 0.03, str(tmp_path / "nothing"): 0.0}
    assert disk_line("x") == "disk x: nothing to measure"
