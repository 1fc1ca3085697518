"""Disk, measured: free space of file systems and the bytes under folders, as one log line per step.

The rebuild workflow prints one line before and after each Python of a cell (on the runner) and after
each step inside the build container (before-build, repair, test), so a job that runs out of disk shows
where the space went. Folder sizes are apparent sizes (the sum of file sizes, hard links counted per
path): what pip's copies of the same files take in a container.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

GB = 1e9
LINE = re.compile(r"^disk (?P<label>\S+):")


@dataclass(frozen=True)
class Free:
    path: Path
    free: int
    total: int


def free_space(path: Path) -> Free:
    st = os.statvfs(path)
    return Free(path=path, free=st.f_bavail * st.f_frsize, total=st.f_blocks * st.f_frsize)


def folder_bytes(path: Path) -> int:
    """The sizes of the files under `path` (not following links); 0 for a path that does not exist."""
    total = 0
    stack = [path]
    while stack:
        here = stack.pop()
        try:
            entries = list(os.scandir(here))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except FileNotFoundError:
                continue  # removed while we walked
    return total


def disk_line(label: str, df: Iterable[Path] = (), du: Iterable[Path] = ()) -> str:
    """`disk LABEL: df / 12.1 GB free of 72.3 GB; du /opt/python 10.40 GB, /tmp 0.12 GB`."""
    parts = []
    frees = [free_space(p) for p in df if p.exists()]
    if frees:
        parts.append("df " + ", ".join(f"{f.path} {f.free / GB:.1f} GB free of {f.total / GB:.1f} GB" for f in frees))
    sizes = [(p, folder_bytes(p)) for p in du]
    if sizes:
        parts.append("du " + ", ".join(f"{p} {n / GB:.2f} GB" for p, n in sizes))
    return f"disk {label}: " + ("; ".join(parts) or "nothing to measure")


def parse_du(line: str) -> dict[str, float]:
    """The du part of a disk line: folder -> GB (for tests and reports reading a log)."""
    _, _, du = line.partition("; du ") if "; du " in line else line.partition(": du ")
    out = {}
    for item in du.split(", "):
        m = re.fullmatch(r"(\S+) ([\d.]+) GB", item.strip())
        if m:
            out[m[1]] = float(m[2])
    return out
