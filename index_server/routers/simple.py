"""The Simple API: `/simple/` and `/cuNN/simple/`, HTML or JSON by Accept, hosted or passed through.

A project page is hosted when the catalog holds a file of the name or the name is declared hosted; its
page then lists the channel's files and the sentinel, and never anything of upstream's. Hosted pages
render in the worker threads; pass-through waits on the event loop (see `index_server.upstream`), so
an upstream that hangs holds no thread a hosted page needs. A name that is not PEP 503 is a 404 at once.
"""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse, RedirectResponse

from index_server.admit.names import project_name
from index_server.context import Context, IndexContext
from index_server.front import checked_generation, host_key, index_key, project_key
from index_server.pages.cache import RawPage, make_page
from index_server.pages.channels import Channel
from index_server.pages.hosted import files_base_for, hosted_page, matrix_url, want_url
from index_server.pages.negotiate import negotiate
from index_server.pages.simple import (
    ProjectPage,
    render_index_html,
    render_index_json,
    render_project_html,
    render_project_json,
)
from index_server.routers.caching import cached_response, page_response

router = APIRouter()


def _channel(text: str | None) -> Channel:
    try:
        return Channel.parse(text)
    except ValueError as err:
        raise HTTPException(404, str(err)) from None


def _negotiated(request: Request) -> tuple[str, str] | Response:
    chosen = negotiate(request.headers.get("accept"), request.query_params.get("format"))
    if chosen is None:
        return PlainTextResponse(
            "406 Not Acceptable: this index serves application/vnd.pypi.simple.v1+json, "
            "application/vnd.pypi.simple.v1+html and text/html",
            status_code=406,
        )
    return chosen


def _max_age(ctx: IndexContext) -> str:
    return f"public, max-age={ctx.settings.page_max_age_s}"


def _index(request: Request, ctx: IndexContext) -> Response:
    chosen = _negotiated(request)
    if isinstance(chosen, Response):
        return chosen
    media_type, kind = chosen

    def render() -> RawPage:
        names = ctx.index.catalog.projects()
        body = render_index_json(names) if kind == "json" else render_index_html(names).encode()
        return make_page(body, media_type, _max_age(ctx))

    page, hit = ctx.pages.get_or_render(index_key(media_type), render, checked_generation(request.scope))
    assert page is not None
    return cached_response(request, page, hit)


def _hosted(
    ctx: IndexContext, request: Request, channel: Channel, name: str, media_type: str, kind: str
) -> RawPage | None:
    """The rendered page of a hosted project, None when `name` is not hosted (no file, not declared)."""
    records = ctx.index.files(name)
    if not records and not ctx.settings.is_hosted(name):
        return None
    page = hosted_page(
        name,
        records,
        channel,
        ctx.settings.root_cuda_major,
        files_base=files_base_for(channel),
        matrix_url=matrix_url(ctx.base_url(request), name),
        want_url=want_url(ctx.base_url(request), name) if ctx.settings.record_wants else None,
    )
    return make_page(_render(page, kind), media_type, _max_age(ctx))


def _render(page: ProjectPage, kind: str) -> bytes:
    return render_project_json(page) if kind == "json" else render_project_html(page).encode()


async def _upstream_body(ctx: IndexContext, name: str, kind: str) -> bytes:
    if ctx.upstream is None or ctx.settings.blocks_upstream(name):
        raise HTTPException(404, f"{name} is not on this index (and is never taken from upstream)")
    answer = await ctx.upstream.project(name)
    if answer is None:
        raise HTTPException(404, f"{name} is neither on this index nor upstream")
    body = answer.rendered.get(kind)
    if body is None:
        body = answer.rendered[kind] = await anyio.to_thread.run_sync(_render, answer.page, kind)
    return body


def _normalized(name: str) -> str:
    normalized = project_name(name)
    if normalized is None:
        raise HTTPException(404, "not a project name (PEP 508: letters, digits and . _ -)")
    return normalized


async def _project(request: Request, ctx: IndexContext, channel: Channel, name: str) -> Response:
    normalized = _normalized(name)
    if name != normalized:
        return RedirectResponse(f"/{channel.prefix}simple/{normalized}/", status_code=301)
    chosen = _negotiated(request)
    if isinstance(chosen, Response):
        return chosen
    media_type, kind = chosen
    key = project_key(channel.prefix, normalized, media_type, host_key(request.scope, ctx.settings.public_url))
    hosted, hit = await anyio.to_thread.run_sync(
        lambda: ctx.pages.get_or_render(
            key, lambda: _hosted(ctx, request, channel, normalized, media_type, kind), checked_generation(request.scope)
        )
    )
    if hosted is not None:
        return cached_response(request, hosted, hit)
    body = await _upstream_body(ctx, normalized, kind)
    return page_response(request, body, media_type, ctx.settings.page_max_age_s)


@router.api_route("/simple/", methods=["GET", "HEAD"])
def root_index(request: Request, ctx: Context) -> Response:
    return _index(request, ctx)


@router.api_route("/simple/{name}/", methods=["GET", "HEAD"])
async def root_project(request: Request, ctx: Context, name: str) -> Response:
    return await _project(request, ctx, _channel(None), name)


@router.api_route("/simple/{name}", methods=["GET", "HEAD"])
def root_project_no_slash(name: str) -> Response:
    return RedirectResponse(f"/simple/{_normalized(name)}/", status_code=301)


@router.api_route("/{channel}/simple/", methods=["GET", "HEAD"])
def channel_index(request: Request, ctx: Context, channel: str) -> Response:
    _channel(channel)
    return _index(request, ctx)


@router.api_route("/{channel}/simple/{name}/", methods=["GET", "HEAD"])
async def channel_project(request: Request, ctx: Context, channel: str, name: str) -> Response:
    return await _project(request, ctx, _channel(channel), name)


@router.api_route("/{channel}/simple/{name}", methods=["GET", "HEAD"])
def channel_project_no_slash(channel: str, name: str) -> Response:
    parsed = _channel(channel)
    return RedirectResponse(f"/{parsed.prefix}simple/{_normalized(name)}/", status_code=301)
