"""Inspect a wheel or sdist: the one validation every ingested file goes through.

The file name must parse with strict characters and real tags (names); a zip's directory is judged from
its end record before zipfile lists it (zip_directory); every member must be a plain file or folder at a
safe path within the limits (members); a wheel's RECORD must hash every member (wheel's own WheelFile
checks each hash as the member is read); METADATA and factory_build.json are refused past their size
limits before they are read, and the latter must match the factory's schema (build_info); the core
metadata's Name and Version must match the name. Returns what the catalog stores. Reads only the file it
is given.
"""

from __future__ import annotations

import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from packaging.tags import parse_tag
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version
from wheel.wheelfile import WheelError, WheelFile

from index_server.admit.build_info import check_build_info
from index_server.admit.members import CONTENT, capped_tarinfo, check_zip, read_tar_members
from index_server.admit.names import ParsedName, check_filename
from index_server.admit.zip_directory import check_zip_directory
from index_server.contract import BUILD_INFO_NAME
from index_server.errors import Refused, RefusedTooLarge, shown
from index_server.settings import Limits

_CHUNK = 1 << 20


@dataclass(frozen=True, kw_only=True)
class Distribution:
    filename: str
    project: NormalizedName
    version: Version
    filetype: str  # "bdist_wheel" or "sdist"
    python_tag: str  # "cp311", "py2.py3", or "source"
    metadata: bytes  # the core metadata file (METADATA / PKG-INFO), served as <file>.metadata
    requires_python: str | None
    build_info: dict[str, Any] | None  # *.dist-info/factory_build.json, when the factory built it


class _WheelFile(WheelFile):
    """wheel's WheelFile, closed again when its constructor refuses the RECORD (which leaves the zip open)."""

    def __init__(self, file: Path) -> None:
        try:
            super().__init__(file)
        except BaseException:
            if getattr(self, "fp", None) is not None:
                self.close()
            raise


def _refuse(rule: str, filename: str, detail: str) -> Refused:
    return Refused(rule, f"{filename}: {detail}", status=CONTENT)


def parse_filename(filename: str) -> tuple[NormalizedName, Version, str, str]:
    """(project, version, filetype, python tag) from a distribution's file name, or Refused."""
    parsed = check_filename(filename)
    return parsed.project, parsed.version, parsed.filetype, parsed.python_tag


def inspect_distribution(path: Path, filename: str, limits: Limits) -> Distribution:
    parsed = check_filename(filename)
    if parsed.filetype == "bdist_wheel":
        metadata, build_info = _read_wheel(path, parsed, limits)
    else:
        metadata, build_info = _read_sdist(path, parsed, limits), None
    fields = BytesParser().parsebytes(metadata, headersonly=True)
    meta_name, meta_version = fields.get("Name"), fields.get("Version")
    if not meta_name or not meta_version:
        raise _refuse("metadata-missing", filename, "core metadata lacks Name or Version")
    if canonicalize_name(meta_name) != parsed.project:
        raise _refuse(
            "metadata-name",
            filename,
            f"metadata Name {shown(meta_name)} does not match the file name's project {parsed.project!r}; "
            "rebuild the file or rename it",
        )
    try:
        meta_parsed = Version(meta_version)
    except InvalidVersion:
        raise _refuse("metadata-version", filename, f"metadata Version {shown(meta_version)} is not PEP 440") from None
    if meta_parsed != parsed.version:
        raise _refuse(
            "metadata-version",
            filename,
            f"metadata Version {shown(meta_version)} does not match the file name's version {parsed.version}",
        )
    return Distribution(
        filename=filename,
        project=parsed.project,
        version=parsed.version,
        filetype=parsed.filetype,
        python_tag=parsed.python_tag,
        metadata=metadata,
        requires_python=fields.get("Requires-Python") or None,
        build_info=build_info,
    )


def _dist_info(zf: zipfile.ZipFile, parsed: ParsedName) -> str:
    tops = {n.split("/", 1)[0] for n in zf.namelist()}
    dist_infos = sorted(t for t in tops if t.endswith(".dist-info"))
    wanted = [d for d in dist_infos if _dist_info_matches(d, parsed.project, parsed.version)]
    if len(wanted) != 1 or len(dist_infos) != 1:
        raise _refuse(
            "dist-info",
            parsed.filename,
            f"expected one {parsed.project}-{parsed.version}.dist-info, found {shown(dist_infos)}",
        )
    for required in ("METADATA", "RECORD", "WHEEL"):
        if f"{wanted[0]}/{required}" not in zf.namelist():
            raise _refuse("dist-info", parsed.filename, f"{wanted[0]}/{required} is missing")
    return wanted[0]


def _check_size(filename: str, what: str, size: int, limit: int, rule: str) -> None:
    if size > limit:
        raise RefusedTooLarge(rule, f"{filename}: {what} is {size} bytes, more than the limit of {limit}")


def _read_wheel(path: Path, parsed: ParsedName, limits: Limits) -> tuple[bytes, dict[str, Any] | None]:
    filename = parsed.filename
    check_zip_directory(path, filename, limits)
    try:
        with zipfile.ZipFile(path) as zf:
            check_zip(zf, filename, limits, path.stat().st_size)
            dist_info = _dist_info(zf, parsed)
            for small in ("METADATA", "WHEEL"):
                size = zf.getinfo(f"{dist_info}/{small}").file_size
                _check_size(filename, small, size, limits.max_metadata_bytes, "metadata-size")
            if f"{dist_info}/{BUILD_INFO_NAME}" in zf.NameToInfo:
                size = zf.getinfo(f"{dist_info}/{BUILD_INFO_NAME}").file_size
                _check_size(filename, BUILD_INFO_NAME, size, limits.max_build_info_bytes, "build-info-size")
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise _refuse("archive-unreadable", filename, f"not a zip archive ({err})") from None
    if path.name != filename:
        raise ValueError(f"the staged copy of {filename} must carry its name, not {path.name}")
    try:
        with _WheelFile(path) as wf:
            for info in wf.infolist():
                if not info.is_dir():
                    _read_all(wf, info, filename)
            metadata = wf.read(f"{dist_info}/METADATA")
            wheel_file = wf.read(f"{dist_info}/WHEEL")
            raw_info = (
                wf.read(f"{dist_info}/{BUILD_INFO_NAME}") if f"{dist_info}/{BUILD_INFO_NAME}" in wf.namelist() else None
            )
    except WheelError as err:
        raise _record_refusal(filename, str(err)) from None
    except (ValueError, KeyError, UnicodeDecodeError) as err:
        raise _refuse("record-malformed", filename, f"RECORD cannot be read as path,hash,size rows ({err})") from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, NotImplementedError) as err:
        # RuntimeError: an encrypted member; NotImplementedError: a compression method zipfile lacks
        raise _refuse("archive-unreadable", filename, f"a member cannot be decompressed ({err})") from None
    _check_wheel_file(filename, parsed, wheel_file)
    return metadata, None if raw_info is None else check_build_info(raw_info, parsed)


def _read_all(wf: WheelFile, info: zipfile.ZipInfo, filename: str) -> None:
    """Read one member to its end, which makes WheelFile compare it with its RECORD hash."""
    size = 0
    with wf.open(info) as stream:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if size > info.file_size:
                raise RefusedTooLarge(
                    "archive-size", f"{filename}: member {shown(info.filename)} is larger than its header says"
                )


def _record_refusal(filename: str, message: str) -> Refused:
    if message.startswith("Hash mismatch"):
        return _refuse(
            "record-hash-mismatch",
            filename,
            f"RECORD hash mismatch: {message}; the wheel was modified after it was built",
        )
    if message.startswith("No hash found"):
        member = message.removeprefix("No hash found for file ")
        return _refuse("record-missing-entry", filename, f"{member} is not listed with a hash in RECORD")
    if message.startswith("Missing"):
        return _refuse("record-missing", filename, message)
    if "hash algorithm" in message:
        return _refuse("record-weak-hash", filename, f"{message}; RECORD must use sha256 or stronger")
    return _refuse("record-malformed", filename, message)


def _check_wheel_file(filename: str, parsed: ParsedName, data: bytes) -> None:
    fields = BytesParser().parsebytes(data, headersonly=True)
    wheel_version = fields.get("Wheel-Version") or ""
    if wheel_version.split(".")[0] != "1":
        raise _refuse(
            "wheel-file", filename, f"WHEEL says Wheel-Version {shown(wheel_version)}; only 1.x is understood"
        )
    declared = {tag for line in fields.get_all("Tag") or [] for tag in parse_tag(line)}
    if declared and declared != parsed.tags:
        raise _refuse(
            "wheel-file",
            filename,
            f"WHEEL's Tag lines {shown(sorted(map(str, declared)))} do not match "
            f"the file name's {sorted(map(str, parsed.tags))}",
        )


def _dist_info_matches(directory: str, project: NormalizedName, version: Version) -> bool:
    stem = directory.removesuffix(".dist-info")
    name, _, ver = stem.rpartition("-")
    try:
        return canonicalize_name(name) == project and Version(ver) == version
    except InvalidVersion:
        return False


def _read_sdist(path: Path, parsed: ParsedName, limits: Limits) -> bytes:
    filename = parsed.filename
    top = filename.removesuffix(".tar.gz")
    try:
        with tarfile.open(path, "r:gz", tarinfo=capped_tarinfo(filename, limits)) as tf:
            members = read_tar_members(tf, filename, top, limits, path.stat().st_size)
            pkg_info = [m for m in members if m.name == f"{top}/PKG-INFO" and m.isfile()]
            if len(pkg_info) != 1:
                raise _refuse("sdist-pkg-info", filename, f"no {top}/PKG-INFO file")
            _check_size(filename, "PKG-INFO", pkg_info[0].size, limits.max_metadata_bytes, "metadata-size")
            stream = tf.extractfile(pkg_info[0])
            assert stream is not None
            return stream.read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise _refuse("archive-unreadable", filename, f"not a gzip tar archive ({err})") from None
