"""Files on the local filesystem, written atomically: temp file, fsync, rename, fsync the directory.

Temporaries live in `root/.tmp` (same filesystem, so the final rename is atomic) and are named
`<pid>.<host>-...` after the process that writes them, so a crashed writer's leftovers can be told from a
live writer's work. A full disk (ENOSPC, EDQUOT) becomes InsufficientStorage after the partial temp
file is removed.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from index_server.errors import InsufficientStorage, RefusedTooLarge

_CHUNK = 1 << 20
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _host_id() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def temp_prefix() -> str:
    """`<pid>.<host>-`: the writer of a temporary, so only its own host judges whether it still runs."""
    return f"{os.getpid()}.{_host_id()}-"


def temp_owner_alive(entry: Path) -> bool | None:
    """Whether the process that named a temporary still runs; None when the name carries no pid of
    this host (another replica's, or an old name)."""
    owner, sep, _ = entry.name.partition("-")
    pid, _, host = owner.partition(".")
    if not sep or not pid.isdigit() or host != _host_id():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def disk_full_is_507(what: str) -> Iterator[None]:
    """Turn ENOSPC/EDQUOT raised inside the block into InsufficientStorage naming `what`."""
    try:
        yield
    except OSError as err:
        if err.errno in _DISK_FULL:
            raise InsufficientStorage(
                f"{what}: the index's disk is full ({os.strerror(err.errno)}); nothing was stored. "
                "Free space on the server and upload again"
            ) from None
        raise


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


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

    def inside(self, path: Path) -> bool:
        """Whether `path`, symlinks resolved, is under the store's root (fsck and export touch nothing else)."""
        root = self.root.resolve()
        return root in path.resolve().parents

    def new_temp(self, suffix: str) -> Path:
        """An empty temp file of this process in the temp area; the caller removes it."""
        with disk_full_is_507("a temporary file"):
            fd, name = tempfile.mkstemp(dir=self.tmp, prefix=temp_prefix(), suffix=suffix)
        os.close(fd)
        return Path(name)

    def dead_temporaries(self) -> list[Path]:
        """Temporaries whose writing process is gone (crash debris)."""
        return [e for e in sorted(self.tmp.iterdir()) if temp_owner_alive(e) is False]

    def write_chunks(self, out_path: Path, chunks: Iterable[bytes], max_bytes: int, what: str) -> tuple[int, str]:
        """Write `chunks` to `out_path` (fsynced); returns (size, sha256). The file is removed on any
        failure; a full disk raises InsufficientStorage."""
        writer = ChunkWriter(out_path, max_bytes, what)
        try:
            for chunk in chunks:
                writer.write(chunk)
            writer.finish()
        except BaseException:
            writer.abort()
            raise
        return writer.size, writer.hashers["sha256"].hexdigest()

    @contextmanager
    def staged_move(self, spooled: Path, filename: str) -> Iterator[Path]:
        """Move `spooled`, a temp file of this store, into a stage folder under its own name (no copy);
        removed afterwards unless committed."""
        if spooled.parent != self.tmp:
            raise ValueError(f"{spooled} is not a temporary of this store ({self.tmp})")
        with disk_full_is_507(filename):
            folder = Path(tempfile.mkdtemp(dir=self.tmp, prefix=temp_prefix(), suffix=".stage"))
        try:
            staged = folder / filename
            os.rename(spooled, staged)
            yield staged
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @contextmanager
    def staged_copy(self, source: Path, max_bytes: int, filename: str | None = None) -> Iterator[tuple[Path, str]]:
        """Copy `source` into the temp area under its own name (`filename`), yielding (temp path,
        sha256); removed afterwards unless committed."""
        with disk_full_is_507(filename or source.name):
            folder = Path(tempfile.mkdtemp(dir=self.tmp, prefix=temp_prefix(), suffix=".stage"))
        try:
            staged = folder / (filename or source.name)
            with source.open("rb") as src:
                _size, sha256 = self.write_chunks(staged, iter(lambda: src.read(_CHUNK), b""), max_bytes, staged.name)
            yield staged, sha256
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def commit(self, staged: Path, project: str, filename: str) -> Path:
        """Atomically move a staged file to its final name (an orphan of that name is replaced)."""
        target = self.path(project, filename)
        with disk_full_is_507(filename):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(staged, PUBLISHED_MODE)  # mkstemp made it 0600
            os.replace(staged, target)
            _fsync_dir(target.parent)
        return target

    def write_bytes(self, project: str, filename: str, data: bytes) -> Path:
        target = self.path(project, filename)
        with disk_full_is_507(filename):
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target, data, tmp_dir=self.tmp)
        return target


class ChunkWriter:
    """A file written chunk by chunk, refused past `max_bytes` at the chunk that crosses it, hashed
    (sha256, and md5 / blake2_256 as upload clients send them) on the way; `finish` fsyncs it."""

    def __init__(self, path: Path, max_bytes: int, what: str) -> None:
        self.path, self.max_bytes, self.what = path, max_bytes, what
        self.size = 0
        self.hashers: dict[str, Any] = {
            "sha256": hashlib.sha256(),
            "md5": hashlib.md5(usedforsecurity=False),
            "blake2_256": hashlib.blake2b(digest_size=32),
        }
        with disk_full_is_507(what):
            self._out = path.open("wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise RefusedTooLarge(
                "upload-size", f"{self.what}: larger than the index's limit of {self.max_bytes} bytes"
            )
        for hasher in self.hashers.values():
            hasher.update(chunk)
        with disk_full_is_507(self.what):
            self._out.write(chunk)

    def finish(self) -> dict[str, str]:
        """Flush and fsync; returns the hex digests by the names upload forms use."""
        with disk_full_is_507(self.what):
            self._out.flush()
            os.fsync(self._out.fileno())
            self._out.close()
        return {name: hasher.hexdigest() for name, hasher in self.hashers.items()}

    def abort(self) -> None:
        """Close and remove the file (after any failure)."""
        with suppress(OSError):
            self._out.close()
        self.path.unlink(missing_ok=True)


# Served files are world-readable, so a static export (hard links) can be served by a web server running as
# another user.
PUBLISHED_MODE = 0o644


def write_atomic(target: Path, data: bytes, *, tmp_dir: Path) -> None:
    fd, name = tempfile.mkstemp(dir=tmp_dir, prefix=temp_prefix(), suffix=".part")
    try:
        os.fchmod(fd, PUBLISHED_MODE)  # mkstemp made it 0600
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
    staging = Path(tempfile.mkdtemp(dir=tmp_dir, prefix=temp_prefix()))
    try:
        shutil.copytree(source, staging / "tree")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / "tree", target)
        _fsync_dir(target.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
