"""The legacy upload API (`/legacy/`) that twine, `uv publish` and poetry speak, with token auth."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from index_server.context import Context, IndexContext
from index_server.distributions import parse_filename
from index_server.errors import DigestMismatch, InvalidDistribution, TooLarge

router = APIRouter()
_CHUNK = 1 << 20


def _auth_failure(request: Request, ctx: IndexContext) -> Response | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return PlainTextResponse(
            "401 Unauthorized: send user __token__ and an upload token as password",
            status_code=401,
            headers={"WWW-Authenticate": 'Basic realm="factory index"'},
        )
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return PlainTextResponse("401 Unauthorized: malformed Basic credentials", status_code=401)
    if user != "__token__":
        return PlainTextResponse(f"403 Forbidden: user must be __token__, not {user!r}", status_code=403)
    if not any(secrets.compare_digest(password, token) for token in ctx.settings.upload_tokens):
        return PlainTextResponse(
            "403 Forbidden: this upload token is not accepted (the server reads FACTORY_UPLOAD_TOKENS)",
            status_code=403,
        )
    return None


def _spool(upload: UploadFile, tmp_dir: Path, max_bytes: int) -> tuple[Path, dict[str, str]]:
    """Copy the upload to a temp file, computing the digests clients send."""
    digests: dict[str, Any] = {
        "sha256": hashlib.sha256(),
        "md5": hashlib.md5(usedforsecurity=False),
        "blake2_256": hashlib.blake2b(digest_size=32),
    }
    fd, name = tempfile.mkstemp(dir=tmp_dir, suffix=".upload")
    size = 0
    with os.fdopen(fd, "wb") as out:
        upload.file.seek(0)
        while chunk := upload.file.read(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                Path(name).unlink(missing_ok=True)
                raise TooLarge(f"upload larger than the index's limit of {max_bytes} bytes")
            for digest in digests.values():
                digest.update(chunk)
            out.write(chunk)
    return Path(name), {k: d.hexdigest() for k, d in digests.items()}


def _check_fields(form_name: str | None, form_version: str | None, filename: str) -> None:
    project, version, _, _ = parse_filename(filename)
    if form_name and canonicalize_name(form_name) != project:
        raise InvalidDistribution(f"{filename}: form field name={form_name!r} does not match the file")
    if form_version:
        try:
            same = Version(form_version) == version
        except InvalidVersion:
            same = False
        if not same:
            raise InvalidDistribution(f"{filename}: form field version={form_version!r} does not match the file")


def _check_digests(sent: dict[str, str | None], actual: dict[str, str], filename: str) -> None:
    present = {k: v.strip().lower() for k, v in sent.items() if v}
    if not present:
        raise DigestMismatch(f"{filename}: no sha256_digest, blake2_256_digest or md5_digest was sent")
    for algorithm, value in present.items():
        if value != actual[algorithm]:
            raise DigestMismatch(
                f"{filename}: {algorithm}_digest {value} does not match the received bytes "
                f"({actual[algorithm]}); the upload was corrupted or the digest is wrong"
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
        return PlainTextResponse(f"400 Bad Request: :action {action!r} is not supported; use file_upload", 400)
    content = form.get("content")
    if not isinstance(content, UploadFile) or not content.filename:
        return PlainTextResponse("400 Bad Request: no file in the 'content' field", status_code=400)
    filename = os.path.basename(content.filename)
    fields = {k: str(v) if isinstance(v, str) else None for k, v in form.items()}
    tmp_path, actual = await run_in_threadpool(
        _spool, content, ctx.index.store.tmp, ctx.settings.limits.max_upload_bytes
    )
    try:
        _check_fields(fields.get("name"), fields.get("version"), filename)
        sent = {a: fields.get(f"{a}_digest") for a in ("sha256", "md5", "blake2_256")}
        _check_digests(sent, actual, filename)
        result = await run_in_threadpool(ctx.index.ingest, tmp_path, filename)
    finally:
        tmp_path.unlink(missing_ok=True)
    verb = "stored" if result.created else "already present with identical content"
    return PlainTextResponse(f"200 OK: {result.filename} {verb} (sha256 {result.sha256})")
