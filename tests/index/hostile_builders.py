"""Byte-level builders of wheels and sdists that break exactly one rule (everything else stays valid).

Unlike fake_dists these write whatever member names, modes, link types and RECORD rows a case asks
for, including what zipfile and tarfile would normally refuse to write.
"""

from __future__ import annotations

import base64
import hashlib
import io
import stat
import struct
import tarfile
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

REGULAR = stat.S_IFREG | 0o644


def record_hash(data: bytes, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm, data).digest()
    return f"{algorithm}=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True, kw_only=True)
class Member:
    name: str
    data: bytes = b"x = 1\n"
    mode: int = REGULAR  # Unix st_mode written into the zip's external attributes
    comment: bytes = b""  # the member's comment in the central directory


@dataclass(kw_only=True)
class WheelSpec:
    name: str = "pkg"
    version: str = "1.0"
    tag: str = "py3-none-any"
    build: str | None = None
    members: Sequence[Member] = ()
    metadata: str | None = None  # whole METADATA text
    wheel_file: str | None = None  # whole WHEEL text
    dist_info: str | None = None  # folder name
    extra_dist_info: str | None = None  # a second .dist-info folder
    drop: Sequence[str] = ()  # dist-info files (METADATA, WHEEL) left out
    record_rows: dict[str, str] = field(default_factory=dict)  # member -> RECORD hash field override
    record_extra: str = ""  # raw text appended to RECORD
    no_record: bool = False
    unlisted: Sequence[Member] = ()  # members written but not listed in RECORD
    tamper: bool = False  # change a member after RECORD was written
    filename: str | None = None

    def build_bytes(self) -> tuple[str, bytes]:
        dist = self.name.replace("-", "_")
        dist_info = self.dist_info or f"{dist}-{self.version}.dist-info"
        members = list(self.members) or [Member(name=f"{dist}/__init__.py")]
        metadata = self.metadata or f"Metadata-Version: 2.1\nName: {self.name}\nVersion: {self.version}\n"
        wheel_file = self.wheel_file or (
            f"Wheel-Version: 1.0\nGenerator: hostile\nRoot-Is-Purelib: true\nTag: {self.tag}\n"
            + (f"Build: {self.build}\n" if self.build else "")
        )
        info = {"METADATA": metadata.encode(), "WHEEL": wheel_file.encode()}
        members += [Member(name=f"{dist_info}/{k}", data=v) for k, v in info.items() if k not in self.drop]
        if self.extra_dist_info:
            members.append(Member(name=f"{self.extra_dist_info}/METADATA", data=metadata.encode()))
        record = "".join(
            f"{m.name},{self.record_rows.get(m.name, record_hash(m.data))},{len(m.data)}\n" for m in members
        )
        record += self.record_extra + f"{dist_info}/RECORD,,\n"
        written = members + list(self.unlisted)
        if self.tamper:
            written[0] = Member(name=written[0].name, data=written[0].data + b"# tampered\n", mode=written[0].mode)
        out = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns about duplicate names, which some cases want
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
                for m in written:
                    zinfo = zipfile.ZipInfo(m.name, date_time=(2020, 1, 1, 0, 0, 0))
                    zinfo.external_attr = (m.mode & 0xFFFF) << 16
                    zinfo.compress_type = zipfile.ZIP_DEFLATED
                    zinfo.comment = m.comment
                    zf.writestr(zinfo, m.data)
                if not self.no_record:
                    zf.writestr(f"{dist_info}/RECORD", record)
        build = f"-{self.build}" if self.build else ""
        return self.filename or f"{dist}-{self.version}{build}-{self.tag}.whl", out.getvalue()


@dataclass(frozen=True, kw_only=True)
class TarMember:
    name: str
    data: bytes = b"x = 1\n"
    type: bytes = tarfile.REGTYPE
    linkname: str = ""


def sdist(
    name: str = "pkg",
    version: str = "1.0",
    *,
    members: Sequence[TarMember] = (),
    pkg_info: str | None = None,
    top: str | None = None,
    filename: str | None = None,
    tar_format: int = tarfile.PAX_FORMAT,
) -> tuple[str, bytes]:
    base = f"{name.replace('-', '_')}-{version}"
    top = top if top is not None else base
    pkg = pkg_info if pkg_info is not None else f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    entries = [TarMember(name=f"{top}/PKG-INFO", data=pkg.encode()), TarMember(name=f"{top}/setup.py"), *members]
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tar_format, compresslevel=1) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.type = entry.type
            info.linkname = entry.linkname
            info.mtime = 0
            if entry.type == tarfile.REGTYPE:
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
            else:
                tar.addfile(info)
    return filename or f"{base}.tar.gz", out.getvalue()


def zip_directory(entries: int, name: bytes = b"pkg/m.py", count: int | None = None) -> bytes:
    """A zip of one stored member whose central directory lists it `entries` times (zip64 past 65535),
    its end record saying `count` entries (default: the truth). Built from bytes: zipfile would take minutes."""
    data = b"x = 1\n"
    crc = zlib.crc32(data)
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, len(data), len(data), len(name), 0)
    local += name + data
    header = struct.pack(
        "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, crc, len(data), len(data), len(name), 0, 0, 0, 0, 0, 0
    )
    central = (header + name) * entries
    offset, size = len(local), len(central)
    count = entries if count is None else count
    tail = b""
    if count > 0xFFFF:
        zip64_at = offset + size
        tail += struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, size, offset)
        tail += struct.pack("<4sLQL", b"PK\x06\x07", 0, zip64_at, 1)
        count = 0xFFFF
    tail += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, size, offset, 0)
    return local + central + tail
