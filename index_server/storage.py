"""Files on the local filesystem, written atomically: temp file, fsync, rename, fsync the directory."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from index_server.errors import TooLarge

_CHUNK = 1 << 20


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileStore:
    """`root/<project>/<filename>` plus `<filename>.metadata`; a temp area on the same filesystem."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / ".tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, project: str, filename: str) -> Path:
        if "/" in filename or filename.startswith(".") or "/" in project or project.startswith("."):
            raise ValueError(f"unsafe file name {project}/{filename}")
        return self.root / project / filename

    @contextmanager
    def staged_copy(self, source: Path, max_bytes: int) -> Iterator[tuple[Path, str]]:
        """Copy `source` into the temp area, yielding (temp path, sha256); removed afterwards unless moved."""
        fd, name = tempfile.mkstemp(dir=self.tmp, suffix=".part")
        staged = Path(name)
        try:
            digest, size = hashlib.sha256(), 0
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                while chunk := src.read(_CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(f"{source.name}: larger than the index's limit of {max_bytes} bytes")
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            yield staged, digest.hexdigest()
        finally:
            staged.unlink(missing_ok=True)

    def commit(self, staged: Path, project: str, filename: str) -> Path:
        """Atomically move a staged file to its final name (which must not exist yet)."""
        target = self.path(project, filename)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
        _fsync_dir(target.parent)
        return target

    def write_bytes(self, project: str, filename: str, data: bytes) -> Path:
        target = self.path(project, filename)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data, tmp_dir=self.tmp)
        return target


def write_atomic(target: Path, data: bytes, *, tmp_dir: Path) -> None:
    fd, name = tempfile.mkstemp(dir=tmp_dir, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(name, target)
    finally:
        Path(name).unlink(missing_ok=True)
    _fsync_dir(target.parent)


def copy_tree_atomic(source: Path, target: Path, *, tmp_dir: Path) -> None:
    """Make `target` a copy of directory `source` in one rename (target must not exist)."""
    staging = Path(tempfile.mkdtemp(dir=tmp_dir))
    try:
        shutil.copytree(source, staging / "tree")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / "tree", target)
        _fsync_dir(target.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
