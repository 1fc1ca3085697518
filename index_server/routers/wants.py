"""`/wants/`: sentinels report the tuple they found no build for (POST); the factory reads the list (GET)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from packaging.utils import canonicalize_name
from starlette.concurrency import run_in_threadpool

from index_server.admit.wants import MAX_BODY_BYTES, check_content_type, parse_report
from index_server.context import Context, IndexContext
from index_server.errors import Refused
from index_server.storage.catalog import now_utc

router = APIRouter()


async def _bounded_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise Refused(
            "want-size", f"a want is at most {MAX_BODY_BYTES} bytes (Content-Length {declared[:20]})", status=413
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise Refused("want-size", f"a want is at most {MAX_BODY_BYTES} bytes", status=413)
    return bytes(body)


def _hosted(ctx: IndexContext, project: str) -> None:
    if not ctx.settings.record_wants:
        raise Refused("want-off", "this index does not record wants", status=404)
    if canonicalize_name(project) != project or not ctx.index.files(project):
        raise Refused("want-project", f"{project[:60]!r} is not a project this index hosts", status=404)


@router.post("/wants/{project}")
async def report(request: Request, ctx: Context, project: str) -> Response:
    await run_in_threadpool(_hosted, ctx, project)
    check_content_type(request.headers.get("content-type"))
    parsed = parse_report(project, await _bounded_body(request), request.headers.get("user-agent"))
    served_by = await run_in_threadpool(ctx.index.serving, parsed.key)
    want = await run_in_threadpool(ctx.index.wants.record, parsed.key, parsed.glibc, now_utc(), served_by)
    return JSONResponse({"wanted": want.key.label, "count": want.count, "served_by": want.served_by}, status_code=202)


@router.get("/wants/")
def all_wants(ctx: Context) -> Response:
    return JSONResponse(
        {"wants": [w.to_json() for w in ctx.index.wants.wants()]}, headers={"Cache-Control": "no-cache"}
    )


@router.get("/wants/{project}")
def project_wants(ctx: Context, project: str) -> Response:
    wants = ctx.index.wants.wants(canonicalize_name(project))
    return JSONResponse({"wants": [w.to_json() for w in wants]}, headers={"Cache-Control": "no-cache"})
