"""A thin ASGI layer in front of FastAPI: cached Simple pages and `.metadata` files answered directly.

A GET or HEAD for `/simple/`, `/simple/<name>/`, `/cuNN/simple/...` or `/files/<p>/<f>.metadata` whose
answer is in the PageCache (and whose catalog generation is current) is answered here, with ETag / 304 and
Cache-Control, without FastAPI's routing, validation or dependency injection. Everything else, and every
miss, goes to the FastAPI app, whose handlers render through the same cache. The access log is written here
for both paths.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from index_server.pages.cache import PageCache, RawPage
from index_server.pages.channels import CHANNELS
from index_server.pages.negotiate import negotiate
from index_server.pages.web import CONTENT_SECURITY_POLICY

METADATA_SUFFIX = ".metadata"
# The catalog generation the front checked, handed to the app in the request's state on a miss.
GENERATION_STATE = "catalog_generation"
_CHANNEL_PREFIXES = {f"cu{m}": f"cu{m}/" for m in CHANNELS}
# On every answer, cached or not, error or not: no content sniffing (a file is never run as HTML), the web
# pages' script-free policy, and no framing by another site.
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
_LOG_SAFE = "/:@!$&'()*+,;=-._~"  # what a path keeps in the log; the rest (space, CR, LF, ESC, %) is %XX


def host_key(scope: Scope, public_url: str | None) -> Hashable:
    """What a host-dependent page varies by: nothing when the public URL is fixed, else scheme and host."""
    if public_url:
        return None
    host = next((v for k, v in scope["headers"] if k == b"host"), None)
    return (scope.get("scheme"), host or scope.get("server"), scope.get("root_path", ""))


def index_key(media_type: str) -> Hashable:
    return ("index", media_type)


def project_key(prefix: str, name: str, media_type: str, host: Hashable) -> Hashable:
    return ("project", prefix, name, media_type, host)


def metadata_key(project: str, filename: str) -> Hashable:
    return ("metadata", project, filename)


@lru_cache(maxsize=512)
def _media_type(accept: str | None) -> str | None:
    """The content type negotiated for an Accept header (None: 406, left to the app to answer)."""
    chosen = negotiate(accept)
    return chosen[0] if chosen else None


def page_key(path: str, accept: str | None, host: Callable[[], Hashable]) -> Hashable | None:
    """The cache key of a GET for `path`, or None when the fast path does not answer it."""
    parts = path.split("/")  # "/simple/x/" -> ["", "simple", "x", ""]
    if len(parts) == 4 and parts[1] == "files" and parts[3].endswith(METADATA_SUFFIX):
        return metadata_key(parts[2], parts[3])
    prefix = ""
    if len(parts) > 2 and parts[1] in _CHANNEL_PREFIXES:
        prefix = _CHANNEL_PREFIXES[parts[1]]
        parts = parts[1:]
    if len(parts) < 3 or parts[1] != "simple" or parts[-1] != "":
        return None
    media_type = _media_type(accept)
    if media_type is None:
        return None
    if len(parts) == 3:
        return index_key(media_type)
    if len(parts) == 4 and parts[2]:
        return project_key(prefix, parts[2], media_type, host())
    return None


def checked_generation(scope: Scope) -> int | None:
    """The generation the front already checked for this request (None when it did not)."""
    value = scope.get("state", {}).get(GENERATION_STATE)
    return value if isinstance(value, int) else None


def _not_modified(page: RawPage, if_none_match: bytes | None) -> bool:
    if if_none_match is None:
        return False
    text = if_none_match.decode("latin-1").strip()
    return text == "*" or page.page.etag in [t.strip() for t in text.split(",")]


class AccessLog:
    """One "METHOD PATH STATUS" line per request, appended to a file (or nothing when there is none).
    The path is percent-encoded past printable ASCII, so no URL can add a line or a field."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, method: str, path: str, status: int) -> None:
        if self.path is None:
            return
        line = f"{quote(method, safe='')} {quote(path, safe=_LOG_SAFE)} {status}\n"
        with self._lock, self.path.open("a") as log:
            log.write(line)


class FrontApp:
    """The ASGI app uvicorn runs: cache hits answered here, the rest handed to `app` (FastAPI)."""

    def __init__(
        self,
        app: ASGIApp,
        pages: PageCache,
        *,
        public_url: str | None,
        access_log: AccessLog,
        worker_header: bool = False,
    ) -> None:
        self.app = app
        self.pages = pages
        self.public_url = public_url
        self.access_log = access_log
        self._extra: list[tuple[bytes, bytes]] = SECURITY_HEADERS + (
            [(b"x-index-worker", str(os.getpid()).encode())] if worker_header else []
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)  # app.state and the like, for tests and tools

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        cacheable = (method == "GET" or method == "HEAD") and not scope.get("query_string")
        if not (cacheable and await self._answer_cached(scope, send, method)):
            await self._forward(scope, receive, send)

    async def _answer_cached(self, scope: Scope, send: Send, method: str) -> bool:
        accept = if_none_match = None
        for name, value in scope["headers"]:
            if name == b"accept":
                accept = value
            elif name == b"if-none-match":
                if_none_match = value
        key = page_key(
            scope["path"],
            accept.decode("latin-1") if accept is not None else None,
            lambda: host_key(scope, self.public_url),
        )
        if key is None:
            return False
        page, generation = self.pages.lookup(key)
        if page is None:
            scope.setdefault("state", {})[GENERATION_STATE] = generation
            return False
        if _not_modified(page, if_none_match):
            status, headers, body = 304, page.not_modified_headers, b""
        else:
            status, headers, body = 200, page.ok_headers, (b"" if method == "HEAD" else page.page.body)
        await send({"type": "http.response.start", "status": status, "headers": [*headers, *self._cache_hit()]})
        await send({"type": "http.response.body", "body": body})
        self.access_log.write(method, scope["path"], status)
        return True

    def _cache_hit(self) -> list[tuple[bytes, bytes]]:
        return [(b"x-index-cache", b"hit"), *self._extra]

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 500

        async def send_logged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), *self._extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            self.access_log.write(scope["method"], scope["path"], status)
