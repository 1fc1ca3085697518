"""An upstream's project page (PEP 691 JSON or PEP 503 HTML) read into a ProjectPage, trusting none of it.

Every link is made absolute against the page's own URL; only `http` and `https` links are kept (a
`javascript:` or `data:` href would run on this index's origin) and userinfo is dropped from each, so no
credential an upstream puts in its links reaches a client. Values of the wrong type are dropped, never
raised on: an upstream's page cannot make the index answer 500.
"""

from __future__ import annotations

import json
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import SplitResult, urldefrag, urljoin, urlsplit, urlunsplit

from index_server.pages.simple import Link, ProjectPage

WEB_SCHEMES = frozenset({"http", "https"})


class UnusablePage(ValueError):
    """The upstream's answer is not a Simple API page."""


def without_userinfo(parts: SplitResult) -> str:
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def web_url(url: str, base: str) -> str | None:
    """`url` resolved against `base` if it is an http(s) URL with a host, without userinfo; else None."""
    try:
        parts = urlsplit(urljoin(base, url.strip()))
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in WEB_SCHEMES or not parts.hostname:
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url.strip()):
        return None
    return without_userinfo(parts._replace(scheme=parts.scheme.lower()))


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self._current: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._current, self._text = dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._current is not None:
            self.anchors.append((self._current, "".join(self._text).strip()))
            self._current = None


def _metadata_hashes(value: str | None) -> dict[str, str] | None:
    if value is None:
        return None
    algorithm, _, digest = value.partition("=")
    return {algorithm: digest} if digest else {}


def parse_html_page(name: str, text: str, page_url: str) -> ProjectPage:
    parser = _Anchors()
    parser.feed(text)
    links = []
    for attrs, label in parser.anchors:
        href = attrs.get("href")
        url = web_url(href, page_url) if href else None
        if url is None:
            continue
        url, fragment = urldefrag(url)
        algorithm, _, digest = fragment.partition("=")
        metadata = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        links.append(
            Link(
                filename=label or url.rsplit("/", 1)[-1],
                url=url,
                hashes={algorithm: digest} if digest else {},
                requires_python=attrs.get("data-requires-python"),
                core_metadata=_metadata_hashes(metadata),
                yanked=attrs.get("data-yanked") if "data-yanked" in attrs else None,
            )
        )
    return ProjectPage(name=name, links=tuple(links))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _hashes(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def _json_link(entry: Any, page_url: str) -> Link | None:
    if not isinstance(entry, dict):
        return None
    filename, href = _str(entry.get("filename")), _str(entry.get("url"))
    url = web_url(href, page_url) if href else None
    if not filename or url is None:
        return None
    metadata = entry.get("core-metadata", entry.get("dist-info-metadata"))
    yanked = entry.get("yanked", False)
    size = entry.get("size")
    uploaded = _str(entry.get("upload-time"))
    try:
        upload_time = datetime.fromisoformat(uploaded.replace("Z", "+00:00")) if uploaded else None
    except ValueError:
        upload_time = None
    return Link(
        filename=filename,
        url=urldefrag(url)[0],
        hashes=_hashes(entry.get("hashes")),
        requires_python=_str(entry.get("requires-python")),
        core_metadata=_hashes(metadata) if isinstance(metadata, dict) else ({} if metadata else None),
        yanked=(yanked if isinstance(yanked, str) else "") if yanked else None,
        size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
        upload_time=upload_time,
    )


def parse_json_page(name: str, body: bytes, page_url: str) -> ProjectPage:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as err:
        raise UnusablePage(f"not JSON ({type(err).__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("files", []), list):
        raise UnusablePage("not a PEP 691 project page (no 'files' list)")
    links = [link for entry in data.get("files", []) if (link := _json_link(entry, page_url)) is not None]
    versions = data.get("versions", ())
    extra = tuple(v for v in versions if isinstance(v, str)) if isinstance(versions, list) else ()
    return ProjectPage(name=name, links=tuple(links), extra_versions=extra)
