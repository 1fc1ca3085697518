"""Web pages: the home page, per-project build matrix, and build logs."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse, RedirectResponse

from index_server.admit.names import project_name
from index_server.context import Context
from index_server.pages.matrix import build_matrix, filter_matrix
from index_server.pages.wanted import wanted_rows
from index_server.pages.web import render_home, render_project
from index_server.routers.caching import page_response

router = APIRouter()


@router.api_route("/", methods=["GET", "HEAD"])
def home(request: Request, ctx: Context) -> Response:
    body = render_home(ctx.index.files(), ctx.base_url(request)).encode()
    return page_response(request, body, "text/html; charset=utf-8", ctx.settings.page_max_age_s, False)


@router.api_route("/project/{name}/", methods=["GET", "HEAD"])
def project(
    request: Request,
    ctx: Context,
    name: str,
    version: str | None = None,
    torch: str | None = None,
    cuda: str | None = None,
    python: str | None = None,
) -> Response:
    normalized = project_name(name)
    if normalized is None:
        raise HTTPException(404, "not a project name (PEP 508: letters, digits and . _ -)")
    if normalized != name:
        return RedirectResponse(f"/project/{normalized}/", status_code=301)
    records = ctx.index.files(name)
    reports = ctx.index.catalog.reports()
    matrix = build_matrix(name, records, reports, version)
    if not records and not matrix.rows and not ctx.settings.is_hosted(name):
        raise HTTPException(404, f"{name} is not hosted on this index")
    filters = {"torch": torch, "cuda": cuda, "python": python}
    wanted = wanted_rows(ctx.index.wants.wants(name), ctx.settings.want_plan)
    body = render_project(
        filter_matrix(matrix, **filters), ctx.base_url(request), filters, ctx.settings.root_cuda_major, wanted
    ).encode()
    return page_response(request, body, "text/html; charset=utf-8", ctx.settings.page_max_age_s, False)


@router.api_route("/logs/{run_id}/{tuple_id}.log", methods=["GET", "HEAD"])
def log(ctx: Context, run_id: str, tuple_id: str) -> Response:
    path = ctx.index.reports.log_path(run_id, tuple_id)
    return FileResponse(path, media_type="text/plain; charset=utf-8")
