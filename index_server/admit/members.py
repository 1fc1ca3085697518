"""Rules on what an archive holds: member paths, member types, duplicates, and expansion limits.

A wheel's members land in site-packages and an sdist's in a build folder, so every member path must
be a plain relative path that stays where it is put: no absolute paths, drive letters, backslashes,
`..` or `.` segments or control characters, at most `max_path_chars` long; no symlinks, hard links,
device or sparse files; no name twice. A tar's extension headers (GNU long names, PAX records) are
refused past `max_header_bytes` from their size field, before tarfile reads them. Each refusal names a
stable rule (`[member-symlink]`) and the offending member, cut to a bounded length.
"""

from __future__ import annotations

import re
import stat
import tarfile
import zipfile
from collections.abc import Iterable

from index_server.errors import Refused, RefusedTooLarge, shown
from index_server.settings import Limits

CONTENT = 422  # the request was well formed; the file inside it breaks a rule
WHEEL_DATA_FOLDERS = frozenset({"purelib", "platlib", "scripts", "headers", "data"})
_DRIVE = re.compile(r"[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RATIO_FLOOR = 1 << 20  # members (and archives) smaller than this are never called bombs


def _refuse(rule: str, filename: str, detail: str) -> Refused:
    return Refused(rule, f"{filename}: {detail}", status=CONTENT)


def check_member_path(filename: str, name: str, max_chars: int = Limits().max_path_chars) -> None:
    """A member path must be relative, forward-slashed, and free of `..`, `.` and empty segments."""
    quoted = shown(name)
    if len(name) > max_chars:
        raise _refuse("path-length", filename, f"member {quoted} is longer than {max_chars} characters")
    if _CONTROL.search(name):
        raise _refuse("path-characters", filename, f"member {quoted} has a control character in its path")
    if "\\" in name:
        raise _refuse("path-backslash", filename, f"member {quoted} has a backslash; archive paths use '/'")
    if name.startswith("/"):
        raise _refuse("path-absolute", filename, f"member {quoted} is an absolute path")
    if _DRIVE.match(name):
        raise _refuse("path-drive-letter", filename, f"member {quoted} starts with a drive letter")
    parts = name.removesuffix("/").split("/")
    if ".." in parts:
        raise _refuse("path-dotdot", filename, f"member {quoted} climbs out of its folder with '..'")
    if any(part in ("", ".") for part in parts):
        raise _refuse("path-dot-segment", filename, f"member {quoted} has an empty or '.' path segment")


def check_unique(filename: str, names: Iterable[str]) -> None:
    seen: set[str] = set()
    for name in names:
        key = name.removesuffix("/")
        if key in seen:
            raise _refuse("member-duplicate", filename, f"member {shown(name)} appears more than once")
        seen.add(key)


def check_wheel_layout(filename: str, names: Iterable[str]) -> None:
    """`<name>-<version>.data/` may hold only the five folders the wheel format defines."""
    for name in names:
        top, _, rest = name.partition("/")
        if not top.endswith(".data") or not rest:
            continue
        sub = rest.split("/", 1)[0]
        if sub not in WHEEL_DATA_FOLDERS or "/" not in rest:
            raise _refuse(
                "data-subfolder",
                filename,
                f"member {shown(name)}: {shown(top)}/ may hold only {', '.join(sorted(WHEEL_DATA_FOLDERS))} folders",
            )


def _zip_kind(info: zipfile.ZipInfo) -> str | None:
    """The refused member kind (symlink, device, ...) of a zip entry, from its Unix mode bits."""
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind in (0, stat.S_IFREG, stat.S_IFDIR):
        return None
    if kind == stat.S_IFLNK:
        return "member-symlink"
    if kind in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK):
        return "member-device"
    return "member-type"


def check_zip(zf: zipfile.ZipFile, filename: str, limits: Limits, archive_size: int) -> None:
    """Every rule a wheel's zip directory can break, checked before a byte is decompressed."""
    infos = zf.infolist()
    _check_totals(filename, len(infos), sum(i.file_size for i in infos), archive_size, limits)
    for info in infos:
        check_member_path(filename, info.filename, limits.max_path_chars)
        rule = _zip_kind(info)
        if rule is not None:
            raise _refuse(rule, filename, f"member {shown(info.filename)} is a {rule.removeprefix('member-')} entry")
        if info.file_size > _RATIO_FLOOR and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise RefusedTooLarge(
                "archive-ratio",
                f"{filename}: member {shown(info.filename)} expands {info.file_size / max(info.compress_size, 1):.0f}x "
                f"(limit {limits.max_ratio:.0f}x); refusing a possible zip bomb",
            )
    check_unique(filename, (i.filename for i in infos))
    check_wheel_layout(filename, (i.filename for i in infos))


def _check_totals(filename: str, count: int, total: int, archive_size: int, limits: Limits) -> None:
    if count > limits.max_members:
        raise RefusedTooLarge(
            "archive-members", f"{filename}: {count} members, more than the limit of {limits.max_members}"
        )
    if total > limits.max_uncompressed_bytes:
        raise RefusedTooLarge(
            "archive-size",
            f"{filename}: {total} bytes uncompressed, more than the limit of {limits.max_uncompressed_bytes}",
        )
    if total > _RATIO_FLOOR and total > limits.max_ratio * max(archive_size, 1):
        raise RefusedTooLarge(
            "archive-ratio",
            f"{filename}: expands {total / max(archive_size, 1):.0f}x (limit {limits.max_ratio:.0f}x); "
            "refusing a possible zip bomb",
        )


def check_tar_member(
    filename: str, member: tarfile.TarInfo, top: str, max_chars: int = Limits().max_path_chars
) -> None:
    """One sdist member: a regular file or folder inside `<name>-<version>/`."""
    name, link = shown(member.name), shown(member.linkname)
    check_member_path(filename, member.name, max_chars)
    if member.issym():
        raise _refuse("member-symlink", filename, f"member {name} is a symlink to {link}")
    if member.islnk():
        raise _refuse("member-hardlink", filename, f"member {name} is a hard link to {link}")
    if member.isdev():
        raise _refuse("member-device", filename, f"member {name} is a device or FIFO")
    if member.issparse() or not (member.isfile() or member.isdir()):
        raise _refuse("member-type", filename, f"member {name} is neither a plain file nor a folder")
    if member.name.removesuffix("/") != top and not member.name.startswith(top + "/"):
        raise _refuse("sdist-top-folder", filename, f"member {name} is outside the top folder {top}/")


_EXTENSION_TYPES = frozenset(
    {tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE}
)


def capped_tarinfo(filename: str, limits: Limits) -> type[tarfile.TarInfo]:
    """A TarInfo class for `tarfile.open(tarinfo=...)` that refuses an extension header (a GNU long name or
    link, a PAX record) larger than `max_header_bytes`, and global PAX headers past 16 of those in all,
    from the header's size field: tarfile would read the whole of it into memory first."""
    budget = [16 * limits.max_header_bytes]

    class CappedTarInfo(tarfile.TarInfo):
        def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
            if self.type == tarfile.GNUTYPE_SPARSE:  # its extension blocks chain without end
                raise _refuse("member-type", filename, f"member {shown(self.name)} is a sparse file")
            if self.type in _EXTENSION_TYPES:
                if self.size > limits.max_header_bytes:
                    raise RefusedTooLarge(
                        "tar-header-size",
                        f"{filename}: a {self.size}-byte tar extension header (a long name or PAX record), "
                        f"more than the limit of {limits.max_header_bytes}",
                    )
                if self.type == tarfile.XGLTYPE:
                    budget[0] -= self.size
                    if budget[0] < 0:
                        raise RefusedTooLarge("tar-header-size", f"{filename}: too many global PAX headers")
            return super()._proc_member(tar)  # type: ignore[misc]

    return CappedTarInfo


def read_tar_members(
    tf: tarfile.TarFile, filename: str, top: str, limits: Limits, archive_size: int
) -> list[tarfile.TarInfo]:
    """All members of an sdist, checked one by one; stops before reading past a limit."""
    members: list[tarfile.TarInfo] = []
    seen: set[str] = set()
    total = 0
    for member in tf:
        check_tar_member(filename, member, top, limits.max_path_chars)
        key = member.name.removesuffix("/")
        if key in seen:
            raise _refuse("member-duplicate", filename, f"member {shown(member.name)} appears more than once")
        seen.add(key)
        members.append(member)
        total += member.size
        _check_totals(filename, len(members), total, archive_size, limits)
    return members
