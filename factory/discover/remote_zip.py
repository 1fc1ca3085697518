"""One member of a remote zip (a wheel), read with HTTP Range requests through stdlib `zipfile`.

`RangeFile` is a read-only, seekable file over byte ranges: the tail read first (end record and, for
most wheels, the central directory), then only the ranges zipfile asks for. Before the member is read,
its local header and data are fetched in one range, so a METADATA costs two requests in all.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable

from factory.errors import FactoryError

RangeRead = Callable[[str, str], tuple[bytes, int]]  # (url, "start-end" or "-n") -> (body, total size)
_LOCAL_SLACK = 1024  # room for a local header's extra field, which may differ from the central one


class RemoteZipError(FactoryError):
    """The remote file is not a readable zip, or the server answered too few bytes."""


class RangeFile(io.RawIOBase):
    def __init__(self, read: RangeRead, url: str, tail_size: int) -> None:
        tail, total = read(url, f"-{tail_size}")
        self._read, self.url, self.size, self._pos = read, url, total, 0
        self._blocks: list[tuple[int, bytes]] = [(total - len(tail), tail)]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def fetch(self, start: int, length: int) -> None:
        """Make bytes [start, start + length) local, with one range request unless they already are."""
        end = min(start + length, self.size)
        if start >= end or self._cached(start, end) is not None:
            return
        body, _ = self._read(self.url, f"{start}-{end - 1}")
        if len(body) != end - start:
            raise RemoteZipError(f"{self.url}: asked for {end - start} bytes at {start}, got {len(body)}")
        self._blocks.append((start, body))

    def _cached(self, start: int, end: int) -> bytes | None:
        for at, data in self._blocks:
            if at <= start and end <= at + len(data):
                return data[start - at : end - at]
        return None

    def read(self, size: int | None = -1) -> bytes:
        end = self.size if size is None or size < 0 else min(self._pos + size, self.size)
        self.fetch(self._pos, end - self._pos)
        data = self._cached(self._pos, end) if end > self._pos else b""
        self._pos = end
        return data or b""

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def read_zip_member(read: RangeRead, url: str, wanted: Callable[[str], bool], tail_size: int = 64 * 1024) -> bytes:
    """The first member whose name satisfies `wanted`, read with `read(url, "start-end")` ranges."""
    remote = RangeFile(read, url, tail_size)
    try:
        with zipfile.ZipFile(remote) as archive:
            info = next((i for i in archive.infolist() if wanted(i.filename)), None)
            if info is None:
                raise RemoteZipError(f"{url}: no member matching the request in the wheel's central directory")
            header = 30 + len(info.filename.encode()) + _LOCAL_SLACK
            remote.fetch(info.header_offset, header + info.compress_size)
            return archive.read(info)
    except zipfile.BadZipFile as err:
        if "central directory" in str(err).lower() or "not a zip" in str(err).lower():
            raise RemoteZipError(f"{url}: no zip end-of-central-directory record ({err}): not a wheel?") from None
        raise RemoteZipError(f"{url}: the wheel's zip is damaged ({err})") from None
    except (zlib.error, EOFError) as err:
        raise RemoteZipError(f"{url}: damaged deflate data ({err}); the wheel's zip is damaged") from None
