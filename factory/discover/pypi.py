"""Reading PyPI: the JSON API for releases and files, and one wheel's METADATA by HTTP Range.

The HTTP client is injected (an `httpx.Client`), so tests pass one over a `MockTransport`. A wheel's
METADATA comes from its PEP 658 `.metadata` file where the index serves one; otherwise from the wheel
itself, without downloading it (factory.discover.remote_zip: zipfile over Range requests, a few hundred KB
instead of a 555 MB torch wheel).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from factory.discover.remote_zip import RemoteZipError, read_zip_member
from factory.errors import FactoryError

PYPI = "https://pypi.org"
_TAIL = 64 * 1024  # one request covers the end record and, for small wheels, the central directory


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
        try:
            data = read_zip_member(self._range, file.url, _is_metadata, _TAIL)
        except RemoteZipError as err:
            raise PyPIError(str(err)) from None
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
