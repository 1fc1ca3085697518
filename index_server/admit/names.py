"""Rules on what an upload is called: the file name, its wheel tags, and the form fields sent with it.

Each rule has a stable name (the `[rule]` in a refusal's message). The form fields are judged the way
twine, `uv publish` and poetry send them: `name` is the metadata Name (twine turns runs of other
characters into '-'), so names compare normalized; `version` compares as PEP 440; `filetype` is
`bdist_wheel` or `sdist`; `pyversion` is the wheel file name's python tag (`py2.py3`) or `source`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from index_server.errors import Refused, shown
from index_server.sentinel import SENTINEL_VERSION, sentinel_filename
from index_server.storage.catalog import is_normalized_project

__all__ = ["ParsedName", "check_filename", "check_form", "is_normalized_project", "project_name"]

MAX_FILENAME = 200
MAX_PROJECT = 100
# PEP 508's name grammar (what a distribution can be called); its normalized form (PEP 503) is lower case
# with single dashes, which is all a project URL of this index may name.
_PROJECT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_FILENAME_CHARS = re.compile(r"[A-Za-z0-9._+!-]+")
_PYTHON_TAG = re.compile(r"(?:py|cp|pp|ip|jy|graalpy)\d{1,3}")
_ABI_TAG = re.compile(r"none|abi3|cp\d{2,3}[dmut]{0,3}|pypy\d{2,3}_pp\d{2,3}|graalpy\d{2,3}(?:_[a-z0-9]+){1,3}")
_ARCH = r"(?:x86_64|i686|aarch64|armv7l|armv6l|ppc64le|ppc64|s390x|riscv64|loongarch64)"
_MAC_ARCH = r"(?:x86_64|arm64|universal2|universal|intel|i386|fat|fat3|fat64|ppc|ppc64)"
_PLATFORM_TAG = re.compile(
    rf"any|win32|win_amd64|win_arm64"
    rf"|linux_{_ARCH}"
    rf"|manylinux(?:1|2010|2014)_{_ARCH}"
    rf"|manylinux_[1-9]\d?_\d{{1,3}}_{_ARCH}"
    rf"|musllinux_[1-9]\d?_\d{{1,3}}_{_ARCH}"
    rf"|macosx_\d{{1,2}}_\d{{1,2}}_{_MAC_ARCH}"
)


@dataclass(frozen=True, kw_only=True)
class ParsedName:
    filename: str
    project: NormalizedName
    version: Version
    filetype: str  # "bdist_wheel" or "sdist"
    python_tags: tuple[str, ...]  # ("cp311",), ("py2", "py3"), or ("source",)
    tags: frozenset[Tag]  # empty for an sdist

    @property
    def python_tag(self) -> str:
        return ".".join(self.python_tags)


def project_name(text: str) -> NormalizedName | None:
    """The PEP 503 form of a project name from a URL, or None when no distribution can be called that."""
    if len(text) > MAX_PROJECT or not _PROJECT.fullmatch(text):
        return None
    return canonicalize_name(text)


def check_filename(filename: str) -> ParsedName:
    """Parse a distribution's file name, refusing any character or tag a real wheel or sdist lacks."""
    if not filename or len(filename) > MAX_FILENAME:
        raise Refused("filename-length", f"{filename[:80]!r}: a file name must have 1 to {MAX_FILENAME} characters")
    if not _FILENAME_CHARS.fullmatch(filename) or filename.startswith((".", "-")):
        bad = sorted({c for c in filename if not _FILENAME_CHARS.fullmatch(c)}) or [filename[0]]
        raise Refused(
            "filename-characters",
            f"{filename!r}: characters {''.join(bad)!r} cannot appear in a wheel or sdist name "
            "(letters, digits and . _ + ! - only)",
        )
    try:
        if filename.endswith(".whl"):
            project, version, _build, tags = parse_wheel_filename(filename)
            _check_tags(filename, tags)
            python_tags = filename.removesuffix(".whl").split("-")[-3].split(".")
            return ParsedName(
                filename=filename,
                project=project,
                version=version,
                filetype="bdist_wheel",
                python_tags=tuple(python_tags),
                tags=tags,
            )
        if filename.endswith(".tar.gz"):
            project, version = parse_sdist_filename(filename)
            if filename == sentinel_filename(project):
                raise Refused(
                    "sentinel-name",
                    f"{filename}: the index serves its own sentinel sdist under this name; "
                    f"use a version other than {SENTINEL_VERSION}",
                )
            return ParsedName(
                filename=filename,
                project=project,
                version=version,
                filetype="sdist",
                python_tags=("source",),
                tags=frozenset(),
            )
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion) as err:
        raise Refused("filename-format", f"{filename}: not a valid distribution file name ({err})") from None
    raise Refused(
        "filename-extension",
        f"{filename}: only wheels (.whl) and sdists (.tar.gz, PEP 625) are accepted",
    )


def _check_tags(filename: str, tags: frozenset[Tag]) -> None:
    for tag in sorted(tags, key=str):
        for rule, value, pattern, example in (
            ("tag-python", tag.interpreter, _PYTHON_TAG, "py3, cp311"),
            ("tag-abi", tag.abi, _ABI_TAG, "none, abi3, cp311"),
            ("tag-platform", tag.platform, _PLATFORM_TAG, "any, manylinux_2_28_x86_64, win_amd64"),
        ):
            if not pattern.fullmatch(value):
                raise Refused(rule, f"{filename}: {value!r} is not a valid {rule[4:]} tag (e.g. {example})")


def check_form(fields: Mapping[str, str | None], parsed: ParsedName) -> None:
    """The upload form's name, version, filetype and pyversion must describe the file sent."""
    filename = parsed.filename
    name = fields.get("name")
    if name and canonicalize_name(name) != parsed.project:
        raise Refused(
            "form-name", f"{filename}: form field name={shown(name)} does not match the file's {parsed.project!r}"
        )
    version = fields.get("version")
    if version:
        try:
            same = Version(version) == parsed.version
        except InvalidVersion:
            same = False
        if not same:
            raise Refused(
                "form-version",
                f"{filename}: form field version={shown(version)} does not match the file's {parsed.version}",
            )
    filetype = fields.get("filetype")
    if filetype and filetype != parsed.filetype:
        raise Refused(
            "form-filetype", f"{filename}: form field filetype={shown(filetype)} but the file is a {parsed.filetype}"
        )
    pyversion = fields.get("pyversion")
    if pyversion and set(pyversion.split(".")) != set(parsed.python_tags):
        raise Refused(
            "form-pyversion",
            f"{filename}: form field pyversion={shown(pyversion)} but the file says {parsed.python_tag!r}",
        )
