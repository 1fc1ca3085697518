"""Security headers on every answer (cached or not, error or not), and an access log no URL can forge."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from conftest import TestClient
from fake_dists import wheel_bytes

from index_server.local import LocalIndex

JSON = "application/vnd.pypi.simple.v1+json"


def check_headers(answer: object, what: str) -> None:
    headers = answer.headers  # type: ignore[attr-defined]
    assert headers.get("x-content-type-options") == "nosniff", what
    policy = headers.get("content-security-policy", "")
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, (what, policy)
    assert "script-src" not in policy or "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert headers.get("x-frame-options") == "DENY", what
    assert headers.get("referrer-policy") == "no-referrer", what


def test_every_answer_carries_the_security_headers(client: TestClient, local: LocalIndex, tmp_path: Path) -> None:
    name, data = wheel_bytes("pkg", "1.0")
    (tmp_path / name).write_bytes(data)
    local.ingest(tmp_path / name)
    requests = [
        ("GET", "/", {}),
        ("GET", "/simple/", {}),
        ("GET", "/simple/", {}),  # a cache hit, answered by the front
        ("GET", "/simple/pkg/", {}),
        ("GET", "/simple/pkg/", {}),
        ("GET", "/simple/pkg/", {"Accept": JSON}),
        ("GET", "/cu13/simple/pkg/", {}),
        ("HEAD", "/simple/pkg/", {}),
        ("GET", "/simple/Pkg/", {}),  # 301
        ("GET", "/simple/pkg/", {"Accept": "image/png"}),  # 406
        ("GET", "/simple/nope/", {}),  # 404
        ("GET", f"/files/pkg/{name}", {}),
        ("GET", f"/files/pkg/{name}.metadata", {}),
        ("GET", f"/files/pkg/{name}.metadata", {}),
        ("GET", "/files/pkg/pkg-0.0.0.tar.gz", {}),
        ("GET", "/project/pkg/", {}),
        ("GET", "/project/pkg/?torch=<b>", {}),
        ("GET", "/logs/x/y.log", {}),
        ("POST", "/legacy/", {}),  # 401
        ("PUT", "/simple/", {}),  # 405
        ("GET", "/no/such/route", {}),
    ]
    for method, url, headers in requests:
        answer = client.request(method, url, headers=headers)
        check_headers(answer, f"{method} {url} -> {answer.status_code}")
        etag = answer.headers.get("etag")
        if etag and method == "GET" and answer.status_code == 200:
            again = client.get(url, headers={**headers, "If-None-Match": etag})
            assert again.status_code == 304
            check_headers(again, f"304 of {url}")


def test_a_url_cannot_forge_access_log_lines(client: TestClient, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    forged = "/simple/x%0AGET%20/simple/forged/%20200%0D/"
    client.get(forged)
    client.get("/simple/%E2%80%AEevil%1B[31m/")
    client.get("/simple/a%20b/")
    lines = log.read_text().splitlines()
    assert len(lines) == 3, lines
    assert all(len(line.split(" ")) == 3 for line in lines), lines
    assert not any(c in log.read_text() for c in ("\r", "\x1b", "\u202e"))
    assert lines[0].startswith("GET /simple/x%0AGET%20") and lines[0].endswith(" 404")


def test_the_policy_allows_the_pages_own_style_block_and_nothing_else(client: TestClient) -> None:
    page = client.get("/").text
    style = re.search(r"<style>(.*?)</style>", page, re.DOTALL)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style[1].encode()).digest()).decode()
    policy = client.get("/").headers["content-security-policy"]
    assert f"style-src 'sha256-{digest}';" in policy
    assert "<script" not in page and " style=" not in page
