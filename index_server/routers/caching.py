"""Response helpers for pages: a strong ETag from the body, short max-age, 304 on If-None-Match."""

from __future__ import annotations

import hashlib

from fastapi import Request, Response


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def matches(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    return header is not None and (header.strip() == "*" or etag in [t.strip() for t in header.split(",")])


def page_response(request: Request, body: bytes, media_type: str, max_age: int, vary_accept: bool = True) -> Response:
    etag = etag_of(body)
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={max_age}"}
    if vary_accept:
        headers["Vary"] = "Accept"
    if matches(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type=media_type, headers=headers)
