"""Pass-through: project pages of names the index does not host, read from an upstream simple index.

It runs on the event loop, never in the worker threads that serve hosted pages: at most `concurrency`
fetches in flight and a bounded queue behind them, one fetch per name at a time (later requests for
the name wait for its answer), answers cached for a TTL and failures for a short one, each fetch bounded
by one overall timeout (connect, redirects and body together) and its body by a size cap. Credentials in
the upstream URL go out as Basic auth to the upstream alone and appear in no page or message; redirects
are followed only within the upstream's own origin. Pages are parsed by `pages.upstream_pages`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urljoin, urlsplit

import anyio
import anyio.to_thread
import httpx

from index_server.errors import UpstreamBusy, UpstreamError, clipped
from index_server.pages.simple import HTML_TYPE, JSON_TYPE, ProjectPage
from index_server.pages.upstream_pages import UnusablePage, parse_html_page, parse_json_page, without_userinfo

_ACCEPT = f"{JSON_TYPE}, {HTML_TYPE};q=0.2, text/html;q=0.1"
MAX_PAGE_BYTES = 32 * 1024 * 1024  # PyPI's largest project pages are a few MB
MAX_REDIRECTS = 5
MAX_CACHED = 20_000  # names remembered (answers, "not upstream" and failures alike)
QUEUE_PER_SLOT = 8  # fetches that may wait for a slot, per slot; past that a request is answered 503 at once
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass
class UpstreamAnswer:
    """An upstream page, and its renderings as this index serves them (filled in once per kind)."""

    page: ProjectPage
    rendered: dict[str, bytes] = field(default_factory=dict)


Cached = UpstreamAnswer | None | UpstreamError


@dataclass
class _LoopState:
    """What belongs to one event loop: the HTTP client, the fetch slots, the fetches in flight."""

    loop: asyncio.AbstractEventLoop
    client: httpx.AsyncClient
    slots: asyncio.Semaphore
    parsing: anyio.CapacityLimiter
    inflight: dict[str, asyncio.Future[UpstreamAnswer | None]] = field(default_factory=dict)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


class Upstream:
    """Cached, coalesced, bounded reader of one upstream simple index."""

    def __init__(
        self,
        base_url: str,
        *,
        ttl_s: float,
        timeout_s: float,
        failure_ttl_s: float = 10.0,
        concurrency: int = 8,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        self.auth = (unquote(parts.username), unquote(parts.password or "")) if parts.username else None
        self.base_url = without_userinfo(parts).rstrip("/") + "/"  # the only form of it ever shown
        self.origin = _origin(self.base_url)
        self.ttl_s, self.failure_ttl_s, self.timeout_s = ttl_s, failure_ttl_s, timeout_s
        self.concurrency = max(1, concurrency)
        self.clock = clock
        self._transport = transport
        self._cache: dict[str, tuple[float, Cached]] = {}
        self._state: _LoopState | None = None

    def _loop_state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        if self._state is None or self._state.loop is not loop:
            client = httpx.AsyncClient(
                transport=self._transport,
                follow_redirects=False,
                limits=httpx.Limits(max_connections=self.concurrency),
                timeout=self.timeout_s,
            )
            self._state = _LoopState(loop, client, asyncio.Semaphore(self.concurrency), anyio.CapacityLimiter(2))
        return self._state

    async def aclose(self) -> None:
        state, self._state = self._state, None
        if state is not None and state.loop is asyncio.get_running_loop():
            await state.client.aclose()

    async def project(self, name: str) -> UpstreamAnswer | None:
        """The upstream page of normalized `name`, or None when upstream has no such project."""
        hit = self._cache.get(name)
        if hit is not None and hit[0] > self.clock():
            if isinstance(hit[1], UpstreamError):
                raise type(hit[1])(str(hit[1]))
            return hit[1]
        state = self._loop_state()
        running = state.inflight.get(name)
        if running is None:
            if len(state.inflight) >= self.concurrency * (1 + QUEUE_PER_SLOT):
                raise UpstreamBusy(f"upstream {self.base_url}: {len(state.inflight)} fetches already waiting; retry")
            running = state.inflight[name] = asyncio.ensure_future(self._fetch_once(name, state))
            running.add_done_callback(lambda done: self._finished(state, name, done))
        return await asyncio.shield(running)

    def _finished(self, state: _LoopState, name: str, done: asyncio.Future[UpstreamAnswer | None]) -> None:
        if state.inflight.get(name) is done:
            del state.inflight[name]
        if not done.cancelled():
            done.exception()  # retrieved even when every requester has gone

    def _remember(self, name: str, value: Cached, ttl_s: float) -> None:
        self._cache.pop(name, None)
        self._cache[name] = (self.clock() + ttl_s, value)
        while len(self._cache) > MAX_CACHED:
            del self._cache[next(iter(self._cache))]  # the oldest entry

    async def _fetch_once(self, name: str, state: _LoopState) -> UpstreamAnswer | None:
        try:
            await asyncio.wait_for(state.slots.acquire(), self.timeout_s)
        except TimeoutError:
            raise UpstreamBusy(
                f"upstream {self.base_url}: no fetch slot freed within {self.timeout_s:g} s "
                f"({self.concurrency} in flight); retry"
            ) from None
        try:
            async with asyncio.timeout(self.timeout_s):
                answer = await self._fetch(name, state)
        except TimeoutError:
            error = UpstreamError(
                f"upstream {self.base_url}{name}/ did not answer within {self.timeout_s:g} s; "
                "check --upstream, or raise --upstream-timeout"
            )
            self._remember(name, error, self.failure_ttl_s)
            raise error from None
        except UpstreamError as error:
            self._remember(name, error, self.failure_ttl_s)
            raise
        finally:
            state.slots.release()
        self._remember(name, answer, self.ttl_s)
        return answer

    async def _fetch(self, name: str, state: _LoopState) -> UpstreamAnswer | None:
        url = f"{self.base_url}{quote(name, safe='')}/"
        for _ in range(MAX_REDIRECTS + 1):
            try:
                async with state.client.stream("GET", url, headers={"Accept": _ACCEPT}, auth=self.auth) as response:
                    if response.is_redirect:
                        url = self._redirect_target(url, response.headers.get("location", ""))
                        continue
                    if response.status_code == 404:
                        return None
                    if response.status_code != 200:
                        raise UpstreamError(f"upstream {url} answered {response.status_code}")
                    body = await self._read_capped(response, url)
                    content_type = response.headers.get("content-type", "")
                    charset = response.charset_encoding or "utf-8"
            except httpx.HTTPError as err:
                raise UpstreamError(
                    f"upstream {url} failed: {type(err).__name__} {clipped(str(err), 200)}; "
                    "check --upstream or the network"
                ) from None
            page = await anyio.to_thread.run_sync(
                self._parse, name, body, content_type, charset, url, limiter=state.parsing
            )
            return UpstreamAnswer(page)
        raise UpstreamError(f"upstream {self.base_url}{name}/ redirected more than {MAX_REDIRECTS} times")

    def _redirect_target(self, url: str, location: str) -> str:
        target = urljoin(url, location.strip())
        if _origin(target) != self.origin:
            scheme, host, port = _origin(target)
            raise UpstreamError(
                f"upstream {url} redirected to another origin ({scheme}://{host}:{port}); "
                f"only redirects within {self.base_url} are followed"
            )
        return without_userinfo(urlsplit(target))

    @staticmethod
    async def _read_capped(response: httpx.Response, url: str) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_PAGE_BYTES:
            raise UpstreamError(f"upstream {url}: a {declared}-byte page, more than {MAX_PAGE_BYTES}")
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_PAGE_BYTES:
                raise UpstreamError(f"upstream {url}: a page larger than {MAX_PAGE_BYTES} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _parse(name: str, body: bytes, content_type: str, charset: str, url: str) -> ProjectPage:
        try:
            if "json" in content_type:
                return parse_json_page(name, body, url)
            try:
                text = body.decode(charset, errors="replace")
            except LookupError:
                text = body.decode("utf-8", errors="replace")
            return parse_html_page(name, text, url)
        except UnusablePage as err:
            raise UpstreamError(f"upstream {url}: {err}") from None
        except Exception as err:  # whatever an upstream sends, the answer is a 502, never a 500
            raise UpstreamError(f"upstream {url}: an unreadable page ({type(err).__name__})") from None
