"""The legacy upload API (`/legacy/`) that twine, `uv publish` and poetry speak, with token auth.

Auth first, then the declared Content-Length, then the body, read as it arrives (`admit.upload_stream`):
the file part goes straight to the data disk, so a refusal costs no more than the bytes before it."""

from __future__ import annotations

import base64
import binascii
import secrets

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from index_server.admit.names import check_filename, check_form
from index_server.admit.upload_stream import MAX_FIELDS_BYTES, ReceivedFile, receive_upload
from index_server.context import Context, IndexContext
from index_server.errors import Refused, RefusedTooLarge, shown

router = APIRouter()
FORM_OVERHEAD = MAX_FIELDS_BYTES + 64 * 1024  # what a body may carry besides the file: fields, boundaries


def _auth_failure(request: Request, ctx: IndexContext) -> Response | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return PlainTextResponse(
            "401 Unauthorized: [auth-missing] send user __token__ and an upload token as password",
            status_code=401,
            headers={"WWW-Authenticate": 'Basic realm="factory index"'},
        )
    try:
        user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return PlainTextResponse("401 Unauthorized: [auth-malformed] malformed Basic credentials", status_code=401)
    if user != "__token__":  # never echoed: a client that swapped the fields sent its token as the user
        return PlainTextResponse("403 Forbidden: [auth-user] the user name must be __token__", status_code=403)
    if not any(secrets.compare_digest(password.encode(), token.encode()) for token in ctx.settings.upload_tokens):
        return PlainTextResponse(
            "403 Forbidden: [auth-token] this upload token is not accepted (the server reads FACTORY_UPLOAD_TOKENS)",
            status_code=403,
        )
    return None


def _check_declared_length(header: str | None, limit: int) -> None:
    """Refuse a body its Content-Length says is too large, before reading a byte of it."""
    if header is not None and header.isdigit() and int(header) > limit + FORM_OVERHEAD:
        raise RefusedTooLarge(
            "upload-size", f"the request declares {header} bytes; the index takes files of at most {limit} bytes"
        )


def _check_early(filename: str, fields: dict[str, str]) -> None:
    """What the fields sent before the file can already refuse (checked again once the body is read)."""
    check_form(fields, check_filename(filename))


def _check_digests(sent: dict[str, str | None], actual: dict[str, str], filename: str) -> None:
    present = {k: v.strip().lower() for k, v in sent.items() if v}
    if not present:
        raise Refused("digest-missing", f"{filename}: no sha256_digest, blake2_256_digest or md5_digest was sent")
    for algorithm, value in present.items():
        if value != actual[algorithm]:
            raise Refused(
                "digest-mismatch",
                f"{filename}: {algorithm}_digest {value} does not match the received bytes "
                f"({actual[algorithm]}); the upload was corrupted or the digest is wrong",
            )


@router.post("/legacy/")
@router.post("/legacy")
async def upload(request: Request, ctx: Context) -> Response:
    failure = _auth_failure(request, ctx)
    if failure is not None:
        return failure
    limit = ctx.settings.limits.max_upload_bytes
    _check_declared_length(request.headers.get("content-length"), limit)
    fields, received = await receive_upload(
        request.stream(),
        request.headers.get("content-type", ""),
        ctx.index.store,
        max_file_bytes=limit,
        on_file=_check_early,
    )
    try:
        return await _store(fields, received, ctx)
    finally:
        if received is not None:
            received.path.unlink(missing_ok=True)


async def _store(fields: dict[str, str], received: ReceivedFile | None, ctx: IndexContext) -> Response:
    action = fields.get(":action")
    if action != "file_upload":
        return PlainTextResponse(
            f"400 Bad Request: [form-action] :action {shown(action, 40)} is not supported; use file_upload", 400
        )
    if received is None or not received.filename:
        return PlainTextResponse("400 Bad Request: [form-content] no file in the 'content' field", status_code=400)
    filename = received.filename
    check_form(fields, check_filename(filename))
    sent = {a: fields.get(f"{a}_digest") for a in ("sha256", "md5", "blake2_256")}
    _check_digests(sent, received.digests, filename)
    result = await run_in_threadpool(ctx.index.ingest_spooled, received.path, filename, received.digests["sha256"])
    verb = "stored" if result.created else "already present with identical content"
    return PlainTextResponse(f"200 OK: {result.filename} {verb} (sha256 {result.sha256})")
