"""Inspect a wheel or sdist: the one validation every ingested file goes through.

Checks that the file name parses, that the core metadata's Name and Version match it, that every
member of a wheel is listed in RECORD with a matching hash, and that no archive is a zip bomb.
Returns what the catalog stores. Reads only the file it is given.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import tarfile
import zipfile
from dataclasses import dataclass
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from index_server.contract import BUILD_INFO_NAME
from index_server.errors import InvalidDistribution, TooLarge
from index_server.settings import Limits

_CHUNK = 1 << 20


@dataclass(frozen=True, kw_only=True)
class Distribution:
    filename: str
    project: NormalizedName
    version: Version
    filetype: str  # "bdist_wheel" or "sdist"
    python_tag: str  # "cp311", "py3", or "source"
    metadata: bytes  # the core metadata file (METADATA / PKG-INFO), served as <file>.metadata
    requires_python: str | None
    build_info: dict[str, Any] | None  # *.dist-info/factory_build.json, when the factory built it


def parse_filename(filename: str) -> tuple[NormalizedName, Version, str, str]:
    """(project, version, filetype, python tag) from a distribution's file name, or InvalidDistribution."""
    try:
        if filename.endswith(".whl"):
            name, version, _build, tags = parse_wheel_filename(filename)
            python = ".".join(sorted({t.interpreter for t in tags}))
            return name, version, "bdist_wheel", python
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return name, version, "sdist", "source"
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion) as err:
        raise InvalidDistribution(f"{filename}: not a valid distribution file name ({err})") from None
    raise InvalidDistribution(f"{filename}: only wheels (.whl) and sdists (.tar.gz, .zip) are accepted")


def inspect_distribution(path: Path, filename: str, limits: Limits) -> Distribution:
    project, version, filetype, python_tag = parse_filename(filename)
    if filetype == "bdist_wheel":
        metadata, build_info = _read_wheel(path, filename, project, version, limits)
    else:
        metadata, build_info = _read_sdist(path, filename, limits), None
    fields = BytesParser().parsebytes(metadata, headersonly=True)
    meta_name, meta_version = fields.get("Name"), fields.get("Version")
    if not meta_name or not meta_version:
        raise InvalidDistribution(f"{filename}: core metadata lacks Name or Version")
    if canonicalize_name(meta_name) != project:
        raise InvalidDistribution(
            f"{filename}: metadata Name {meta_name!r} does not match the file name's project {project!r}; "
            "rebuild the file or rename it"
        )
    try:
        parsed_version = Version(meta_version)
    except InvalidVersion:
        raise InvalidDistribution(f"{filename}: metadata Version {meta_version!r} is not PEP 440") from None
    if parsed_version != version:
        raise InvalidDistribution(
            f"{filename}: metadata Version {meta_version} does not match the file name's version {version}"
        )
    return Distribution(
        filename=filename,
        project=project,
        version=version,
        filetype=filetype,
        python_tag=python_tag,
        metadata=metadata,
        requires_python=fields.get("Requires-Python") or None,
        build_info=build_info,
    )


def _check_zip_limits(zf: zipfile.ZipFile, filename: str, limits: Limits) -> None:
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise TooLarge(f"{filename}: {len(infos)} members, more than the limit of {limits.max_members}")
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed_bytes:
        raise TooLarge(
            f"{filename}: {total} bytes uncompressed, more than the limit of {limits.max_uncompressed_bytes}"
        )
    for info in infos:
        if info.file_size > _CHUNK and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise TooLarge(
                f"{filename}: member {info.filename} expands "
                f"{info.file_size / max(info.compress_size, 1):.0f}x (limit {limits.max_ratio:.0f}x); "
                "refusing a possible zip bomb"
            )


def _hash_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, filename: str) -> tuple[str, int]:
    """urlsafe-b64 sha256 and length of one member, reading no more than its declared size."""
    digest, size = hashlib.sha256(), 0
    with zf.open(info) as stream:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if size > info.file_size:
                raise TooLarge(f"{filename}: member {info.filename} is larger than its header says")
            digest.update(chunk)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode(), size


def _read_wheel(
    path: Path, filename: str, project: NormalizedName, version: Version, limits: Limits
) -> tuple[bytes, dict[str, Any] | None]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise InvalidDistribution(f"{filename}: not a zip archive ({err})") from None
    with zf:
        _check_zip_limits(zf, filename, limits)
        names = zf.namelist()
        dist_infos = {n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")}
        wanted = [d for d in dist_infos if _dist_info_matches(d, project, version)]
        if len(wanted) != 1:
            raise InvalidDistribution(
                f"{filename}: expected one {project}-{version}.dist-info directory, found {sorted(dist_infos)}"
            )
        dist_info = wanted[0]
        for required in ("METADATA", "RECORD", "WHEEL"):
            if f"{dist_info}/{required}" not in names:
                raise InvalidDistribution(f"{filename}: {dist_info}/{required} is missing")
        _check_record(zf, filename, dist_info)
        metadata = zf.read(f"{dist_info}/METADATA")
        build_info = None
        if f"{dist_info}/{BUILD_INFO_NAME}" in names:
            try:
                build_info = json.loads(zf.read(f"{dist_info}/{BUILD_INFO_NAME}"))
            except ValueError as err:
                raise InvalidDistribution(f"{filename}: {BUILD_INFO_NAME} is not JSON ({err})") from None
            if not isinstance(build_info, dict):
                raise InvalidDistribution(f"{filename}: {BUILD_INFO_NAME} is not a JSON object")
    return metadata, build_info


def _dist_info_matches(directory: str, project: NormalizedName, version: Version) -> bool:
    stem = directory.removesuffix(".dist-info")
    name, _, ver = stem.rpartition("-")
    try:
        return canonicalize_name(name) == project and Version(ver) == version
    except InvalidVersion:
        return False


def _check_record(zf: zipfile.ZipFile, filename: str, dist_info: str) -> None:
    record_name = f"{dist_info}/RECORD"
    rows = list(csv.reader(io.StringIO(zf.read(record_name).decode("utf-8"))))
    recorded: dict[str, str] = {}
    for row in rows:
        if row:
            recorded[row[0]] = row[1] if len(row) > 1 else ""
    unsigned = {record_name, f"{dist_info}/RECORD.jws", f"{dist_info}/RECORD.p7s"}
    for info in zf.infolist():
        if info.is_dir() or info.filename in unsigned:
            continue
        entry = recorded.get(info.filename)
        if not entry:
            raise InvalidDistribution(f"{filename}: {info.filename} is not listed with a hash in RECORD")
        algorithm, _, expected = entry.partition("=")
        if algorithm != "sha256":
            raise InvalidDistribution(f"{filename}: RECORD uses {algorithm!r} for {info.filename}; need sha256")
        actual, _size = _hash_member(zf, info, filename)
        if actual != expected:
            raise InvalidDistribution(
                f"{filename}: RECORD hash mismatch for {info.filename} (RECORD {expected}, content {actual});"
                " the wheel was modified after it was built"
            )


def _read_sdist(path: Path, filename: str, limits: Limits) -> bytes:
    if not filename.endswith(".tar.gz"):
        raise InvalidDistribution(f"{filename}: only .tar.gz sdists are accepted (PEP 625)")
    try:
        with tarfile.open(path, "r:gz") as tf:
            members = []
            total = 0
            for member in tf:
                members.append(member)
                total += member.size
                if len(members) > limits.max_members or total > limits.max_uncompressed_bytes:
                    raise TooLarge(f"{filename}: more than the index's limits when unpacked")
            pkg_info = [m for m in members if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")]
            if len(pkg_info) != 1 or not pkg_info[0].isfile():
                raise InvalidDistribution(f"{filename}: no top-level <name>-<version>/PKG-INFO")
            stream = tf.extractfile(pkg_info[0])
            assert stream is not None
            return stream.read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise InvalidDistribution(f"{filename}: not a gzip tar archive ({err})") from None
