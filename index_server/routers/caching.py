"""Response helpers for pages: a strong ETag from the body, short max-age, 304 on If-None-Match."""

from __future__ import annotations

from fastapi import Request, Response

from index_server.pages.cache import RawPage, etag_of

__all__ = ["cached_response", "etag_of", "matches", "page_response"]


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


def cached_response(request: Request, raw: RawPage, hit: bool) -> Response:
    """The answer for a page from the PageCache (`hit`: it was there already, not rendered for this request)."""
    page = raw.page
    headers = {**page.headers, "X-Index-Cache": "hit" if hit else "miss"}
    if matches(request, page.etag):
        return Response(status_code=304, headers=headers)
    return Response(content=page.body, media_type=page.media_type, headers={**headers, **dict(page.extra)})
