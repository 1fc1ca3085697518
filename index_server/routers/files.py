"""Immutable files: wheels and sdists, their PEP 658 `.metadata`, and the sentinel sdist per project."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse

from index_server.context import Context
from index_server.hosted import matrix_url
from index_server.ingest import METADATA_SUFFIX
from index_server.routers.caching import matches
from index_server.sentinel import build_sentinel, sentinel_filename, sentinel_sha256

router = APIRouter()

IMMUTABLE = "public, max-age=31536000, immutable"


@router.api_route("/files/{project}/{filename}", methods=["GET", "HEAD"])
def get_file(request: Request, ctx: Context, project: str, filename: str) -> Response:
    if filename == sentinel_filename(project) and ctx.index.files(project):
        url = matrix_url(ctx.base_url(request), project)
        etag = f'"{sentinel_sha256(project, url)}"'
        headers = {"ETag": etag, "Cache-Control": "public, max-age=3600"}
        if matches(request, etag):
            return Response(status_code=304, headers=headers)
        return Response(build_sentinel(project, url), media_type="application/gzip", headers=headers)
    is_metadata = filename.endswith(METADATA_SUFFIX)
    record = ctx.index.catalog.get(filename.removesuffix(METADATA_SUFFIX) if is_metadata else filename)
    if record is None or record.project != project or (is_metadata and record.metadata_sha256 is None):
        raise HTTPException(404, f"no file {project}/{filename} on this index")
    digest = record.metadata_sha256 if is_metadata else record.sha256
    etag = f'"{digest}"'
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE}
    if matches(request, etag):
        return Response(status_code=304, headers=headers)
    path = ctx.index.store.path(project, filename)
    media_type = "text/plain; charset=utf-8" if is_metadata else "application/octet-stream"
    return FileResponse(
        path, media_type=media_type, headers=headers, content_disposition_type="attachment", filename=filename
    )
