"""Pass-through: project pages of names the index does not host, read from an upstream simple index.

Asks for PEP 691 JSON and falls back to parsing PEP 503 HTML. File URLs are made absolute so clients fetch
files from upstream directly. Answers (including "not found") are cached for a TTL.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin

import httpx

from index_server.errors import UpstreamError
from index_server.pages.simple import HTML_TYPE, JSON_TYPE, Link, ProjectPage

_ACCEPT = f"{JSON_TYPE}, {HTML_TYPE};q=0.2, text/html;q=0.1"


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
        if not href:
            continue
        url, fragment = urldefrag(urljoin(page_url, href))
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


def parse_json_page(name: str, body: bytes, page_url: str) -> ProjectPage:
    data = json.loads(body)
    links = []
    for entry in data.get("files", []):
        metadata = entry.get("core-metadata", entry.get("dist-info-metadata"))
        yanked = entry.get("yanked", False)
        uploaded = entry.get("upload-time")
        links.append(
            Link(
                filename=entry["filename"],
                url=urljoin(page_url, entry["url"]),
                hashes=dict(entry.get("hashes", {})),
                requires_python=entry.get("requires-python"),
                core_metadata=metadata if isinstance(metadata, dict) else ({} if metadata else None),
                yanked=(yanked if isinstance(yanked, str) else "") if yanked else None,
                size=entry.get("size"),
                upload_time=datetime.fromisoformat(uploaded.replace("Z", "+00:00")) if uploaded else None,
            )
        )
    return ProjectPage(name=name, links=tuple(links), extra_versions=tuple(data.get("versions", ())))


class Upstream:
    """Cached reader of one upstream simple index."""

    def __init__(
        self,
        base_url: str,
        ttl_s: float,
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.ttl_s = ttl_s
        self.clock = clock
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=True, transport=transport)
        self._cache: dict[str, tuple[float, ProjectPage | None]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def project(self, name: str) -> ProjectPage | None:
        """The upstream page of normalized `name`, or None when upstream has no such project."""
        now = self.clock()
        with self._lock:
            hit = self._cache.get(name)
        if hit is not None and hit[0] > now:
            return hit[1]
        page = self._fetch(name)
        with self._lock:
            self._cache[name] = (now + self.ttl_s, page)
        return page

    def _fetch(self, name: str) -> ProjectPage | None:
        url = f"{self.base_url}{name}/"
        try:
            response = self._client.get(url, headers={"Accept": _ACCEPT})
        except httpx.HTTPError as err:
            raise UpstreamError(f"upstream {url} failed: {err}; check --upstream or the network") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise UpstreamError(f"upstream {url} answered {response.status_code}")
        page_url = str(response.url)
        if "json" in response.headers.get("content-type", ""):
            return parse_json_page(name, response.content, page_url)
        return parse_html_page(name, response.text, page_url)
