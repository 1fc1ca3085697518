"""The Simple API's pages as values, and their pure HTML (PEP 503) and JSON (PEP 691) renderings.

API version 1.1: PEP 700 `versions`, `size`, `upload-time`; PEP 658/714 metadata (`core-metadata` in JSON,
`data-core-metadata` plus `data-dist-info-metadata` in HTML, never JSON `dist-info-metadata`, which
breaks pip 22.3-23.1); PEP 592 yanking; PEP 629 repository version meta.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from packaging.version import InvalidVersion, Version

API_VERSION = "1.1"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"

_TEMPLATES = Environment(
    loader=PackageLoader("index_server", "templates"),
    autoescape=select_autoescape(default=True),
    keep_trailing_newline=True,
)


@dataclass(frozen=True, kw_only=True)
class Link:
    filename: str
    url: str  # without fragment; relative to the page or absolute
    hashes: dict[str, str] = field(default_factory=dict)
    requires_python: str | None = None
    core_metadata: dict[str, str] | None = None  # hashes of <url>.metadata, None when there is none
    yanked: str | None = None  # None: not yanked; "" yanked without reason
    size: int | None = None
    upload_time: datetime | None = None
    factory_build: dict[str, Any] | None = None  # the wheel's factory_build.json, JSON pages only


@dataclass(frozen=True, kw_only=True)
class ProjectPage:
    name: str
    links: tuple[Link, ...]
    extra_versions: tuple[str, ...] = ()

    @property
    def versions(self) -> list[str]:
        found: set[str] = set(self.extra_versions)
        for link in self.links:
            version = version_of(link.filename)
            if version is not None:
                found.add(version)
        return sorted(found, key=_version_key)


def _version_key(text: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(text))
    except InvalidVersion:
        return (0, text)


def version_of(filename: str) -> str | None:
    from packaging.utils import parse_sdist_filename, parse_wheel_filename

    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except ValueError:
        return None


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _meta() -> dict[str, str]:
    return {"api-version": API_VERSION}


def render_index_json(names: Iterable[str]) -> bytes:
    body = {"meta": _meta(), "projects": [{"name": n} for n in names]}
    return json.dumps(body, separators=(",", ":")).encode()


def render_index_html(names: Iterable[str]) -> str:
    return _TEMPLATES.get_template("simple_index.html").render(api_version=API_VERSION, names=list(names))


def _file_json(link: Link) -> dict[str, object]:
    entry: dict[str, object] = {"filename": link.filename, "url": link.url, "hashes": dict(link.hashes)}
    if link.requires_python:
        entry["requires-python"] = link.requires_python
    entry["core-metadata"] = dict(link.core_metadata) if link.core_metadata is not None else False
    entry["yanked"] = (link.yanked or True) if link.yanked is not None else False
    if link.size is not None:
        entry["size"] = link.size
    if link.upload_time is not None:
        entry["upload-time"] = format_time(link.upload_time)
    if link.factory_build is not None:
        entry["_factory_build"] = link.factory_build  # PEP 691 leaves "_" keys to the index
    return entry


def render_project_json(page: ProjectPage) -> bytes:
    body = {
        "meta": _meta(),
        "name": page.name,
        "versions": page.versions,
        "files": [_file_json(link) for link in page.links],
    }
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass(frozen=True)
class _Anchor:
    """What the HTML template needs of one link, its attribute values computed here."""

    href: str
    filename: str
    requires_python: str | None
    metadata: str | None  # value of data-core-metadata ("true" or "sha256=..."), None when absent
    yanked: str | None


def _anchor(link: Link) -> _Anchor:
    href = link.url
    if "sha256" in link.hashes:
        href += f"#sha256={link.hashes['sha256']}"
    metadata = None
    if link.core_metadata is not None:
        metadata = f"sha256={link.core_metadata['sha256']}" if "sha256" in link.core_metadata else "true"
    return _Anchor(
        href=href,
        filename=link.filename,
        requires_python=link.requires_python,
        metadata=metadata,
        yanked=link.yanked,
    )


def render_project_html(page: ProjectPage) -> str:
    return _TEMPLATES.get_template("simple_project.html").render(
        api_version=API_VERSION, name=page.name, links=[_anchor(link) for link in page.links]
    )
