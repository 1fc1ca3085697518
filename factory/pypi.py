"""Reading PyPI: the JSON API for releases and files, and one wheel's METADATA by HTTP Range.

The HTTP client is injected (an `httpx.Client`), so tests pass one over a `MockTransport`. A wheel's
METADATA comes from its PEP 658 `.metadata` file where the index serves one; otherwise from the wheel
itself, without downloading it: the zip's end record and central directory are read from the tail, then
only the METADATA member's bytes (a few hundred KB of requests instead of a 555 MB torch wheel).
"""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from factory.errors import FactoryError

PYPI = "https://pypi.org"
_TAIL = 64 * 1024  # one request covers the end record and, for small wheels, the central directory
_LOCAL_SLACK = 1024  # room for a local header's extra field, which may differ from the central one


class PyPIError(FactoryError):
    """PyPI (or the mirror in its place) answered something the factory cannot use."""


@dataclass(frozen=True, kw_only=True)
class ReleaseFile:
    """One file of one release, as PyPI's JSON API lists it (url made absolute)."""

    filename: str
    url: str
    packagetype: str  # "bdist_wheel" or "sdist"
    size: int
    sha256: str
    yanked: bool
    core_metadata: bool  # PEP 658: the index says `<url>.metadata` exists
    requires_python: str = ""  # the file's Requires-Python as the index lists it


@dataclass(frozen=True, kw_only=True)
class WheelMetadata:
    text: str
    via: str  # "pep658" (the index's .metadata file) or "range" (read from the wheel's zip)
    bytes_read: int


def parse_project(data: dict[str, Any], base_url: str) -> dict[Version, tuple[ReleaseFile, ...]]:
    """The `releases` of a `/pypi/<name>/json` answer, keyed by version (invalid versions skipped)."""
    out: dict[Version, tuple[ReleaseFile, ...]] = {}
    for raw_version, files in data.get("releases", {}).items():
        try:
            version = Version(raw_version)
        except InvalidVersion:
            continue
        out[version] = tuple(
            ReleaseFile(
                filename=f["filename"],
                url=urljoin(base_url, f["url"]),
                packagetype=f["packagetype"],
                size=int(f.get("size", 0)),
                sha256=f.get("digests", {}).get("sha256", ""),
                yanked=bool(f.get("yanked", False)),
                core_metadata=bool(f.get("core-metadata") or f.get("data-dist-info-metadata")),
                requires_python=f.get("requires_python") or "",
            )
            for f in files
        )
    return dict(sorted(out.items()))


class PyPI:
    """PyPI's JSON API and Range reads of wheels, over an injected HTTP client."""

    def __init__(self, http: httpx.Client, base_url: str = PYPI) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.bytes_read = 0  # body bytes of every wheel read (ranges and .metadata files)
        self.requests = 0

    def releases(self, project: str) -> dict[Version, tuple[ReleaseFile, ...]]:
        name: NormalizedName = canonicalize_name(project)
        url = f"{self.base_url}/pypi/{name}/json"
        response = self._get(url)
        if response.status_code == 404:
            raise PyPIError(f"{url}: 404, PyPI has no project {name!r}; check the name in matrix.toml")
        self._check(response, url)
        return parse_project(response.json(), url)

    def wheel_metadata(self, file: ReleaseFile) -> WheelMetadata:
        """The METADATA of a wheel: its PEP 658 file first, else the wheel's own, read by Range."""
        before = self.bytes_read
        response = self._get(file.url + ".metadata")
        if response.status_code == 200:
            self.bytes_read += len(response.content)
            return WheelMetadata(text=response.text, via="pep658", bytes_read=len(response.content))
        if response.status_code not in (403, 404):
            self._check(response, file.url + ".metadata")
        data = read_zip_member(self._range, file.url, _is_metadata)
        return WheelMetadata(text=data.decode("utf-8"), via="range", bytes_read=self.bytes_read - before)

    def download(self, file: ReleaseFile) -> bytes:
        """A whole (small) file, checked against the sha256 the index publishes for it."""
        response = self._get(file.url)
        self._check(response, file.url)
        got = hashlib.sha256(response.content).hexdigest()
        if file.sha256 and got != file.sha256:
            raise PyPIError(f"{file.url}: sha256 {got}, but the index publishes {file.sha256}; not using it")
        self.bytes_read += len(response.content)
        return response.content

    def _get(self, url: str) -> httpx.Response:
        self.requests += 1
        try:
            return self.http.get(url, follow_redirects=True)
        except httpx.HTTPError as err:
            raise PyPIError(f"{url}: {err}; check the network, or pass --pypi-url for a mirror of PyPI") from None

    def _check(self, response: httpx.Response, url: str) -> None:
        if response.status_code != 200:
            raise PyPIError(f"{url}: HTTP {response.status_code}; retry later or use another mirror")

    def _range(self, url: str, spec: str) -> tuple[bytes, int]:
        """Body and total size for `Range: bytes=<spec>`; refuses a server that ignores Range."""
        self.requests += 1
        try:
            with self.http.stream("GET", url, headers={"Range": f"bytes={spec}"}, follow_redirects=True) as response:
                if response.status_code != 206:
                    raise PyPIError(
                        f"{url}: asked for bytes {spec}, got HTTP {response.status_code} instead of 206; "
                        "this server does not answer Range requests, so the wheel's METADATA cannot be "
                        "read without downloading it"
                    )
                body = response.read()
                total = _content_range_total(response.headers.get("content-range", ""), url)
        except httpx.HTTPError as err:
            raise PyPIError(f"{url}: {err}; check the network") from None
        self.bytes_read += len(body)
        return body, total


def _content_range_total(header: str, url: str) -> int:
    m = re.fullmatch(r"bytes \d+-\d+/(\d+)", header.strip())
    if m is None:
        raise PyPIError(f"{url}: unusable Content-Range {header!r} in a 206 answer")
    return int(m[1])


def _is_metadata(name: str) -> bool:
    """The top-level `<name>-<version>.dist-info/METADATA` of a wheel."""
    parts = name.split("/")
    return len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA"


# --- zip structures (APPNOTE.TXT 4.3), read from byte ranges -------------------------------------------

_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"


@dataclass(frozen=True)
class ZipEntry:
    name: str
    method: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int


def central_directory_location(tail: bytes, tail_start: int) -> tuple[int, int] | int:
    """(offset, size) of the central directory from a zip's tail; for zip64 whose record lies
    before the tail, the record's absolute offset instead (read it and call `zip64_location`)."""
    at = tail.rfind(_EOCD, 0, max(0, len(tail) - 18))
    if at < 0:
        raise PyPIError("no zip end-of-central-directory record in the last bytes: not a wheel?")
    cd_size, cd_offset = struct.unpack_from("<II", tail, at + 12)
    if cd_size != 0xFFFFFFFF and cd_offset != 0xFFFFFFFF:
        return cd_offset, cd_size
    loc = at - 20
    if loc < 0 or tail[loc : loc + 4] != _ZIP64_LOCATOR:
        raise PyPIError("zip64 sizes without a zip64 locator: the wheel's zip is damaged")
    (record,) = struct.unpack_from("<Q", tail, loc + 8)
    if record >= tail_start:
        return zip64_location(tail[record - tail_start :])
    return record


def zip64_location(record: bytes) -> tuple[int, int]:
    if record[:4] != _ZIP64_EOCD:
        raise PyPIError("zip64 end record not where its locator says: the wheel's zip is damaged")
    cd_size, cd_offset = struct.unpack_from("<QQ", record, 40)
    return cd_offset, cd_size


def iter_central_directory(cd: bytes) -> Iterator[ZipEntry]:
    pos = 0
    while cd[pos : pos + 4] == _CENTRAL:
        (method, _t, _d, crc, csize, usize, nlen, elen, clen) = struct.unpack_from("<HHHIIIHHH", cd, pos + 10)
        (offset,) = struct.unpack_from("<I", cd, pos + 42)
        name = cd[pos + 46 : pos + 46 + nlen].decode("utf-8", "replace")
        extra = cd[pos + 46 + nlen : pos + 46 + nlen + elen]
        usize, csize, offset = _zip64_extra(extra, usize, csize, offset)
        yield ZipEntry(name, method, crc, csize, usize, offset)
        pos += 46 + nlen + elen + clen


def _zip64_extra(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    """Replace the 0xFFFFFFFF fields by the zip64 extra field's 8-byte values, in APPNOTE's order."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        if tag == 0x0001:
            values = iter(struct.unpack_from(f"<{length // 8}Q", extra, pos + 4))
            usize = next(values) if usize == 0xFFFFFFFF else usize
            csize = next(values) if csize == 0xFFFFFFFF else csize
            offset = next(values) if offset == 0xFFFFFFFF else offset
        pos += 4 + length
    return usize, csize, offset


def member_data(entry: ZipEntry, local: bytes) -> bytes | int:
    """The entry's uncompressed bytes from a read starting at its local header, or the number of
    bytes the read must cover when the local extra field was longer than expected."""
    if local[:4] != _LOCAL:
        raise PyPIError(f"{entry.name}: no local header at offset {entry.header_offset}")
    nlen, elen = struct.unpack_from("<HH", local, 26)
    start = 30 + nlen + elen
    if len(local) < start + entry.compressed_size:
        return start + entry.compressed_size
    raw = local[start : start + entry.compressed_size]
    if entry.method == 0:
        data = raw
    elif entry.method == 8:
        try:
            data = zlib.decompressobj(-15).decompress(raw)
        except zlib.error as err:
            raise PyPIError(f"{entry.name}: damaged deflate data ({err}); the wheel's zip is damaged") from None
    else:
        raise PyPIError(f"{entry.name}: zip compression method {entry.method} is not supported")
    if zlib.crc32(data) != entry.crc or len(data) != entry.size:
        raise PyPIError(f"{entry.name}: CRC or size mismatch after reading it by range")
    return data


RangeRead = Callable[[str, str], tuple[bytes, int]]  # (url, "start-end" or "-n") -> (body, total size)


def read_zip_member(read: RangeRead, url: str, wanted: Callable[[str], bool], tail_size: int = _TAIL) -> bytes:
    """The first member whose name satisfies `wanted`, read with `read(url, "start-end")` ranges."""
    tail, total = read(url, f"-{tail_size}")
    tail_start = total - len(tail)
    where = central_directory_location(tail, tail_start)
    if isinstance(where, int):
        record, _ = read(url, f"{where}-{where + 55}")
        where = zip64_location(record)
    cd_offset, cd_size = where
    if cd_offset >= tail_start:
        cd = tail[cd_offset - tail_start : cd_offset - tail_start + cd_size]
    else:
        cd, _ = read(url, f"{cd_offset}-{cd_offset + cd_size - 1}")
    entry = next((e for e in iter_central_directory(cd) if wanted(e.name)), None)
    if entry is None:
        raise PyPIError(f"{url}: no member matching the request in the wheel's central directory")
    want = 30 + len(entry.name.encode()) + _LOCAL_SLACK + entry.compressed_size
    local, _ = read(url, f"{entry.header_offset}-{entry.header_offset + want - 1}")
    data = member_data(entry, local)
    if isinstance(data, int):
        local, _ = read(url, f"{entry.header_offset}-{entry.header_offset + data - 1}")
        data = member_data(entry, local)
    if isinstance(data, int):
        raise PyPIError(f"{url}: {entry.name}: the server returned fewer bytes than asked for")
    return data
