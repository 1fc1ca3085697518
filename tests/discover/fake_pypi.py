"""A fake PyPI over httpx.MockTransport that replays tests/fixtures/pypi (recorded from pypi.org).

Wheels whose METADATA PyPI served as a PEP 658 file are served the same way; for the others the
`.metadata` URL is a 404 and the wheel URL answers Range requests over a small zip holding the recorded
METADATA, so the same code path as against the real mirror runs.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

FIXTURES = Path(__file__).parents[1] / "fixtures" / "pypi"
BASE = "https://pypi.example"


def wheel_zip(filename: str, metadata: str, padding: int = 0, members: int = 0) -> bytes:
    """A wheel-shaped zip: the package, its METADATA, and optional filler to grow the file/directory."""
    name, version = filename.split("-")[:2]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{name}/__init__.py", "")
        for i in range(members):
            z.writestr(f"{name}/include/some/deep/header/path/file_{i:05d}.h", f"// {i}\n")
        if padding:
            z.writestr(f"{name}/lib/blob.so", bytes(range(256)) * (padding // 256), zipfile.ZIP_STORED)
        z.writestr(f"{name}-{version}.dist-info/METADATA", metadata)
        z.writestr(f"{name}-{version}.dist-info/WHEEL", "Wheel-Version: 1.0\n")
    return buf.getvalue()


def sdist_bytes(files: dict[str, str], top: str = "pkg-1.8.0") -> bytes:
    """A .tar.gz holding `files` (name -> text) under one top folder, as an sdist does."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def range_response(data: bytes, header: str | None) -> httpx.Response:
    if header is None:
        return httpx.Response(200, content=data)
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", header)
    assert m, header
    if m[1] == "":
        start, end = max(0, len(data) - int(m[2])), len(data) - 1
    else:
        start, end = int(m[1]), min(len(data) - 1, int(m[2]) if m[2] else len(data) - 1)
    headers = {"content-range": f"bytes {start}-{end}/{len(data)}"}
    return httpx.Response(206, content=data[start : end + 1], headers=headers)


class FakePyPI:
    """Routes: /pypi/<name>/json, <wheel>.metadata, Range reads of <wheel>, and whole files tests add."""

    def __init__(self, edit: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.projects: dict[str, dict[str, Any]] = {}
        for name in ("torch", "causal-conv1d", "mamba-ssm"):
            data = json.loads((FIXTURES / f"{name}.json").read_text())
            if edit is not None:
                edit(name, data)
            self.projects[name] = data
        self.via: dict[str, str] = json.loads((FIXTURES / "metadata" / "index.json").read_text())
        self.extra_metadata: dict[str, tuple[str, str]] = {}  # filename -> (via, text), added by tests
        self.seen: list[httpx.Request] = []
        self.wheel_ranges: list[str | None] = []  # the Range header of each wheel read (None: the whole wheel)
        self.files: dict[str, bytes] = {}  # whole files (sdists) by name, added by tests

    def metadata_of(self, filename: str) -> tuple[str, str] | None:
        if filename in self.extra_metadata:
            return self.extra_metadata[filename]
        path = FIXTURES / "metadata" / f"{filename}.METADATA"
        return (self.via[filename], path.read_text()) if path.exists() else None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        path = request.url.path
        m = re.fullmatch(r"/pypi/([^/]+)/json", path)
        if m:
            data = self.projects.get(m[1])
            return httpx.Response(200, json=data) if data else httpx.Response(404)
        filename = path.rsplit("/", 1)[-1]
        if filename in self.files:
            return httpx.Response(200, content=self.files[filename])
        if filename.endswith(".metadata"):
            found = self.metadata_of(filename.removesuffix(".metadata"))
            if found and found[0] == "pep658":
                return httpx.Response(200, text=found[1])
            return httpx.Response(404)
        found = self.metadata_of(filename)
        if found is None:
            return httpx.Response(404)
        self.wheel_ranges.append(request.headers.get("range"))
        return range_response(wheel_zip(filename, found[1]), request.headers.get("range"))

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))
