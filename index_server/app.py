"""create_app(settings): the index as an ASGI app (FastAPI behind a cached-page front), no globals at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse

from index_server.context import IndexContext
from index_server.errors import IndexError as IndexRefusal
from index_server.errors import clipped
from index_server.front import AccessLog, FrontApp
from index_server.local import LocalIndex
from index_server.pages.cache import PageCache
from index_server.routers import files, simple, upload, wants, web
from index_server.settings import IndexSettings
from index_server.storage.generation import CatalogGeneration
from index_server.upstream import Upstream


def create_app(settings: IndexSettings) -> FrontApp:
    index = LocalIndex(settings.data_dir, settings)
    generation = CatalogGeneration(settings.catalog_path)
    pages = PageCache(generation)
    upstream = (
        Upstream(
            settings.upstream_url,
            ttl_s=settings.upstream_ttl_s,
            timeout_s=settings.upstream_timeout_s,
            failure_ttl_s=settings.upstream_failure_ttl_s,
            concurrency=settings.upstream_concurrency,
        )
        if settings.upstream_url
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if upstream is not None:
            await upstream.aclose()
        generation.close()

    app = FastAPI(title="CUDA wheel factory index", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.context = IndexContext(settings=settings, index=index, upstream=upstream, pages=pages)

    @app.exception_handler(IndexRefusal)
    async def refusal(request: Request, err: IndexRefusal) -> Response:
        return PlainTextResponse(clipped(f"{err.status} {type(err).__name__}: {err}"), status_code=err.status)

    for module in (simple, files, upload, wants, web):
        app.include_router(module.router)
    return FrontApp(
        app,
        pages,
        public_url=settings.public_url,
        access_log=AccessLog(settings.access_log),
        worker_header=settings.worker_header,
    )
