"""create_app(settings): the FastAPI index, with no globals at import."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse

from index_server.context import IndexContext
from index_server.errors import IndexError as IndexRefusal
from index_server.local import LocalIndex
from index_server.routers import files, simple, upload, web
from index_server.settings import IndexSettings
from index_server.upstream import Upstream


def _access_logger(settings: IndexSettings) -> Callable[[str], None]:
    lock = threading.Lock()

    def write(line: str) -> None:
        if settings.access_log is None:
            return
        with lock, settings.access_log.open("a") as log:
            log.write(line + "\n")

    return write


def create_app(settings: IndexSettings) -> FastAPI:
    index = LocalIndex(settings.data_dir, settings)
    upstream = (
        Upstream(settings.upstream_url, settings.upstream_ttl_s, settings.upstream_timeout_s)
        if settings.upstream_url
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if upstream is not None:
            upstream.close()

    app = FastAPI(title="CUDA wheel factory index", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.context = IndexContext(settings=settings, index=index, upstream=upstream)
    log_line = _access_logger(settings)

    @app.middleware("http")
    async def access_log(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        log_line(f"{request.method} {request.url.path} {response.status_code}")
        return response

    @app.exception_handler(IndexRefusal)
    async def refusal(request: Request, err: IndexRefusal) -> Response:
        return PlainTextResponse(f"{err.status} {type(err).__name__}: {err}", status_code=err.status)

    for module in (simple, files, upload, web):
        app.include_router(module.router)
    return app
