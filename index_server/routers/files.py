"""Immutable files: wheels and sdists, their PEP 658 `.metadata`, and the sentinel sdist per project."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse

from index_server.admit.ingest import METADATA_SUFFIX
from index_server.admit.names import is_normalized_project
from index_server.context import Context, IndexContext
from index_server.errors import shown
from index_server.front import checked_generation, metadata_key
from index_server.pages.cache import RawPage, make_page
from index_server.pages.hosted import matrix_url, want_url
from index_server.pages.wanted import sentinel_builds
from index_server.routers.caching import cached_response, matches
from index_server.sentinel import build_sentinel, sentinel_filename, sentinel_sha256

router = APIRouter()

IMMUTABLE = "public, max-age=31536000, immutable"


class LargeChunkFileResponse(FileResponse):
    """Starlette's FileResponse (Range, If-Range, HEAD) reading 1 MiB per thread hop instead of 64 KiB:
    each chunk costs a worker-thread round trip, so larger reads are what moves downloads near disk speed."""

    chunk_size = 1024 * 1024


def _metadata_page(ctx: IndexContext, project: str, filename: str) -> RawPage | None:
    record = ctx.index.catalog.get(filename.removesuffix(METADATA_SUFFIX))
    if record is None or record.project != project or record.metadata_sha256 is None:
        return None
    body = ctx.index.store.path(project, filename).read_bytes()
    return make_page(
        body,
        "text/plain; charset=utf-8",
        IMMUTABLE,
        vary_accept=False,
        etag=f'"{record.metadata_sha256}"',
        extra=(("Content-Disposition", f'attachment; filename="{filename}"'),),
    )


@router.api_route("/files/{project}/{filename}", methods=["GET", "HEAD"])
def get_file(request: Request, ctx: Context, project: str, filename: str) -> Response:
    hosted = is_normalized_project(project) and (ctx.settings.is_hosted(project) or ctx.index.files(project))
    if filename == sentinel_filename(project) and hosted:
        records = ctx.index.files(project)
        base = ctx.base_url(request)
        args = (
            matrix_url(base, project),
            want_url(base, project) if ctx.settings.record_wants else None,
            sentinel_builds(records, ctx.settings.root_cuda_major),
        )
        etag = f'"{sentinel_sha256(project, *args)}"'
        # Its bytes name the builds the index has, so they change when a build is published.
        headers = {"ETag": etag, "Cache-Control": "public, max-age=60"}
        if matches(request, etag):
            return Response(status_code=304, headers=headers)
        return Response(build_sentinel(project, *args), media_type="application/gzip", headers=headers)
    if filename.endswith(METADATA_SUFFIX):
        page, hit = ctx.pages.get_or_render(
            metadata_key(project, filename),
            lambda: _metadata_page(ctx, project, filename),
            checked_generation(request.scope),
        )
        if page is None:
            raise HTTPException(404, f"no file {shown(project + '/' + filename)} on this index")
        return cached_response(request, page, hit)
    record = ctx.index.catalog.get(filename)
    if record is None or record.project != project:
        raise HTTPException(404, f"no file {shown(project + '/' + filename)} on this index")
    etag = f'"{record.sha256}"'
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE}
    if matches(request, etag):
        return Response(status_code=304, headers=headers)
    return LargeChunkFileResponse(
        ctx.index.store.path(project, filename),
        media_type="application/octet-stream",
        headers=headers,
        content_disposition_type="attachment",
        filename=filename,
    )
