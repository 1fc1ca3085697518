"""The legacy upload API (`/legacy/`) that twine, `uv publish` and poetry speak, with token auth."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from index_server.admit.names import check_filename, check_form
from index_server.context import Context, IndexContext
from index_server.errors import Refused
from index_server.storage.files import FileStore

router = APIRouter()
_CHUNK = 1 << 20


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
    if user != "__token__":
        return PlainTextResponse(f"403 Forbidden: [auth-user] user must be __token__, not {user!r}", status_code=403)
    if not any(secrets.compare_digest(password.encode(), token.encode()) for token in ctx.settings.upload_tokens):
        return PlainTextResponse(
            "403 Forbidden: [auth-token] this upload token is not accepted (the server reads FACTORY_UPLOAD_TOKENS)",
            status_code=403,
        )
    return None


def _spool(upload: UploadFile, store: FileStore, max_bytes: int, filename: str) -> tuple[Path, dict[str, str]]:
    """Copy the upload to a temp file of the store, computing the digests clients send; the temp file
    is removed on any failure (a full disk included)."""
    hashers: dict[str, Any] = {
        "md5": hashlib.md5(usedforsecurity=False),
        "blake2_256": hashlib.blake2b(digest_size=32),
    }
    path = store.new_temp(".upload")
    upload.file.seek(0)
    _size, sha256 = store.write_chunks(
        path, iter(lambda: upload.file.read(_CHUNK), b""), max_bytes, filename, tuple(hashers.values())
    )
    return path, {"sha256": sha256, **{k: h.hexdigest() for k, h in hashers.items()}}


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
    async with request.form(max_part_size=4 * 1024 * 1024) as form:
        return await _store(form, ctx)


async def _store(form: FormData, ctx: IndexContext) -> Response:
    action = form.get(":action")
    if action != "file_upload":
        return PlainTextResponse(
            f"400 Bad Request: [form-action] :action {action!r} is not supported; use file_upload", 400
        )
    content = form.get("content")
    if not isinstance(content, UploadFile) or not content.filename:
        return PlainTextResponse("400 Bad Request: [form-content] no file in the 'content' field", status_code=400)
    filename = content.filename
    fields = {k: v if isinstance(v, str) else None for k, v in form.items()}
    check_form(fields, check_filename(filename))  # refused before a byte is spooled
    tmp_path, actual = await run_in_threadpool(
        _spool, content, ctx.index.store, ctx.settings.limits.max_upload_bytes, filename
    )
    try:
        sent = {a: fields.get(f"{a}_digest") for a in ("sha256", "md5", "blake2_256")}
        _check_digests(sent, actual, filename)
        result = await run_in_threadpool(ctx.index.ingest, tmp_path, filename)
    finally:
        tmp_path.unlink(missing_ok=True)
    verb = "stored" if result.created else "already present with identical content"
    return PlainTextResponse(f"200 OK: {result.filename} {verb} (sha256 {result.sha256})")
