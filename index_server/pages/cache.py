"""Rendered pages kept in memory until the catalog changes: one render per catalog state, not per request.

Every lookup first asks the CatalogGeneration; when another commit happened since the entries were made,
they are all dropped. An entry is stored only under the generation read *before* its page was rendered, so a
commit that lands while a page renders can never leave that page cached under the newer state.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from index_server.storage.generation import CatalogGeneration

# Pages that embed the request's host are cached per host; a client sending many Host headers must not
# grow memory without bound, so past this many bytes of bodies the cache starts over.
MAX_BYTES = 64 * 1024 * 1024


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@dataclass(frozen=True, kw_only=True)
class CachedPage:
    """A ready answer: the body, its strong ETag, and the raw ASGI headers of a 200 and of a 304."""

    body: bytes
    etag: str
    media_type: str
    cache_control: str
    vary_accept: bool
    extra: tuple[tuple[str, str], ...] = ()  # headers of the 200 only (e.g. Content-Disposition)

    @property
    def common_headers(self) -> list[tuple[bytes, bytes]]:
        headers = [(b"etag", self.etag.encode()), (b"cache-control", self.cache_control.encode())]
        if self.vary_accept:
            headers.append((b"vary", b"Accept"))
        return headers

    @property
    def headers(self) -> dict[str, str]:
        """The headers shared by the 200 and the 304, for a Starlette Response."""
        return {k.decode(): v.decode() for k, v in self.common_headers}


@dataclass(frozen=True)
class RawPage:
    """A CachedPage with its ASGI header lists built once (the hot path only copies references)."""

    page: CachedPage
    ok_headers: list[tuple[bytes, bytes]]
    not_modified_headers: list[tuple[bytes, bytes]]


def make_page(
    body: bytes,
    media_type: str,
    cache_control: str,
    *,
    vary_accept: bool = True,
    etag: str | None = None,
    extra: tuple[tuple[str, str], ...] = (),
) -> RawPage:
    """A page ready to cache; the ETag defaults to a digest of the body."""
    page = CachedPage(
        body=body,
        etag=etag or etag_of(body),
        media_type=media_type,
        cache_control=cache_control,
        vary_accept=vary_accept,
        extra=extra,
    )
    common = page.common_headers
    content_type = media_type
    if content_type.startswith("text/") and "charset=" not in content_type:
        content_type += "; charset=utf-8"  # as Starlette's Response writes it for the same page
    ok = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()), *common]
    ok += [(k.encode(), v.encode()) for k, v in extra]
    return RawPage(page=page, ok_headers=ok, not_modified_headers=common)


class PageCache:
    def __init__(self, generation: CatalogGeneration) -> None:
        self.generation = generation
        self._lock = threading.Lock()
        self._seen = -1
        self._entries: dict[Hashable, RawPage] = {}
        self._bytes = 0

    def _fresh(self) -> int:
        """The catalog's generation now; entries of an older one are dropped."""
        now = self.generation.current()
        if now != self._seen:
            with self._lock:
                if now != self._seen:
                    self._entries, self._bytes = {}, 0
                    self._seen = now
        return now

    def lookup(self, key: Hashable) -> tuple[RawPage | None, int]:
        """(the cached page for `key` if the catalog has not changed since it was rendered, the generation
        checked), so a miss handed on can render without checking again."""
        generation = self._fresh()
        return self._entries.get(key), generation

    def get_or_render(
        self, key: Hashable, render: Callable[[], RawPage | None], generation: int | None = None
    ) -> tuple[RawPage | None, bool]:
        """(page, hit). `render` reads the catalog; None from it (nothing to cache) is not stored.
        `generation`: what this request's lookup already checked (None: check now)."""
        if generation is None:
            generation = self._fresh()
        found = self._entries.get(key)
        if found is not None:
            return found, True
        page = render()
        if page is not None:
            with self._lock:
                if self._seen == generation:
                    if self._bytes + len(page.page.body) > MAX_BYTES:
                        self._entries, self._bytes = {}, 0
                    self._entries[key] = page
                    self._bytes += len(page.page.body)
        return page, False
