"""Which index a `factory plan --index URL` reads, with fake transports (no network)."""

from __future__ import annotations

import httpx
import pytest

from factory.run.index_builds import IndexReadError, base_candidates, index_base, published_builds

JSON = "application/vnd.pypi.simple.v1+json"


def test_base_candidates_of_each_form() -> None:
    assert base_candidates("http://h:1") == ["http://h:1"]
    assert base_candidates("http://h:1/simple/") == ["http://h:1", "http://h:1/simple"]
    assert base_candidates("http://h:1/cu12/simple") == ["http://h:1", "http://h:1/cu12/simple"]
    assert base_candidates(" http://h:1/pypi/ ") == ["http://h:1/pypi"]


def client(routes: dict[str, httpx.Response]) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        return routes.get(str(request.url), httpx.Response(404, text="not found"))

    return httpx.Client(transport=httpx.MockTransport(answer))


def index_root() -> httpx.Response:
    return httpx.Response(200, headers={"content-type": JSON}, json={"meta": {"api-version": "1.1"}, "projects": []})


def test_an_index_mounted_under_simple_is_found_as_given() -> None:
    with client({"http://h/simple/simple/": index_root()}) as http:
        assert index_base("http://h/simple", http) == "http://h/simple"


def test_a_web_page_is_not_an_index() -> None:
    page = httpx.Response(200, headers={"content-type": "text/html"}, text="<html>welcome</html>")
    with client({"http://h/simple/": page}) as http, pytest.raises(IndexReadError) as err:
        published_builds("http://h", ["causal-conv1d"], [13], http)
    assert "http://h is not a PEP 691 package index" in str(err.value)
    assert "http://h/simple/ answered 200 'text/html'" in str(err.value)


def test_an_empty_index_plans_everything() -> None:
    with client({"http://h/simple/": index_root()}) as http:
        assert published_builds("http://h/simple/", ["causal-conv1d"], [12, 13], http) == {}
