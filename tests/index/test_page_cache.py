"""The page cache, its keys, and the settings hand-off to worker processes (no server started)."""

from __future__ import annotations

from pathlib import Path

from fake_dists import mamba_build
from starlette.testclient import TestClient

from index_server.front import index_key, metadata_key, page_key, project_key
from index_server.local import LocalIndex
from index_server.pages.cache import PageCache, RawPage, make_page
from index_server.settings import IndexSettings, Limits
from index_server.storage.generation import CatalogGeneration
from index_server.worker_entry import settings_from_json, settings_to_json, write_settings_file

JSON = "application/vnd.pypi.simple.v1+json"


def test_page_keys() -> None:
    def host() -> str:
        return "h"

    assert page_key("/simple/", None, host) == index_key("text/html")
    assert page_key("/cu12/simple/", JSON, host) == index_key(JSON)
    assert page_key("/simple/mamba-ssm/", JSON, host) == project_key("", "mamba-ssm", JSON, "h")
    assert page_key("/cu13/simple/mamba-ssm/", None, host) == project_key("cu13/", "mamba-ssm", "text/html", "h")
    assert page_key("/files/p/p-1.whl.metadata", None, host) == metadata_key("p", "p-1.whl.metadata")
    for path in ("/simple/x", "/cu99/simple/x/", "/files/p/p-1.whl", "/simple/x/y/", "/", "/project/x/"):
        assert page_key(path, None, host) is None, path
    assert page_key("/simple/x/", "application/vnd.pypi.simple.v2+json", host) is None  # 406 is the app's


def test_cache_drops_entries_when_another_connection_commits(tmp_path: Path) -> None:
    local = LocalIndex(tmp_path / "data")
    cache = PageCache(CatalogGeneration(local.settings.catalog_path))
    renders: list[int] = []

    def render() -> RawPage:
        renders.append(1)
        return make_page(str(len(local.files())).encode(), "text/plain", "no-cache")

    first, hit = cache.get_or_render("k", render)
    assert not hit and first is not None and first.page.body == b"0"
    again, hit = cache.get_or_render("k", render)
    assert hit and again is first and len(renders) == 1
    wheel = mamba_build(tmp_path / "b", "13.0", "2.14")
    local.ingest(wheel)
    assert cache.lookup("k")[0] is None
    fresh, hit = cache.get_or_render("k", render)
    assert not hit and fresh is not None and fresh.page.body == b"1" and fresh.page.etag != first.page.etag
    for write in (
        lambda: local.catalog.set_yanked(wheel.name, "broken"),
        lambda: local.catalog.add_report("run-1", "2026-01-01", {}),
    ):
        cache.get_or_render("k", render)
        assert cache.get_or_render("k", render)[1]
        write()
        assert cache.lookup("k")[0] is None, "a yank or a report must drop the cached pages"


def test_settings_reach_workers_unchanged(tmp_path: Path) -> None:
    settings = IndexSettings(
        data_dir=tmp_path / "data",
        upload_tokens=frozenset({"a", "b"}),
        upstream_url=None,
        never_upstream=("torch", "nvidia-*"),
        root_cuda_major={"2.9": 12},
        access_log=tmp_path / "log",
        limits=Limits(max_members=7, max_metadata_bytes=9),
        worker_header=True,
        hosted=frozenset({"mamba-ssm", "Our_Pkg"}),
        upstream_timeout_s=2.5,
        upstream_failure_ttl_s=1.5,
        upstream_concurrency=3,
    )
    assert settings.hosted == {"mamba-ssm", "our-pkg"}
    assert settings_from_json(settings_to_json(settings)) == settings
    path = write_settings_file(settings, tmp_path)
    assert path.stat().st_mode & 0o077 == 0, "the file holds upload tokens: owner only"
    assert settings_from_json(path.read_text()) == settings


def test_cached_answers_keep_http_semantics(client: TestClient, local: LocalIndex, tmp_path: Path) -> None:
    """The second GET comes from the cache (the ASGI front) with the same body and headers as the first."""
    wheel = mamba_build(tmp_path / "w", "13.0", "2.14")
    local.ingest(wheel)
    for path, accept in (("/simple/mamba-ssm/", None), ("/cu13/simple/mamba-ssm/", JSON), ("/simple/", JSON)):
        headers = {"Accept": accept} if accept else {}
        first = client.get(path, headers=headers)
        second = client.get(path, headers=headers)
        assert (first.headers["x-index-cache"], second.headers["x-index-cache"]) == ("miss", "hit"), path
        assert second.content == first.content and second.status_code == 200
        for name in ("etag", "cache-control", "vary", "content-type", "content-length"):
            assert second.headers[name] == first.headers[name], (path, name)
        head = client.head(path, headers=headers)
        assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == first.headers["etag"]
        not_modified = client.get(path, headers={**headers, "If-None-Match": first.headers["etag"]})
        assert not_modified.status_code == 304 and not_modified.headers["x-index-cache"] == "hit"
    metadata = f"/files/mamba-ssm/{wheel.name}.metadata"
    first, second = client.get(metadata), client.get(metadata)
    assert second.headers["x-index-cache"] == "hit" and second.content == first.content
    assert b"Name: mamba-ssm" in second.content and second.headers["etag"] == first.headers["etag"]
    assert client.get("/simple/mamba-ssm/?format=text/html").headers["x-index-cache"] == "hit"  # by the route
    local.ingest(mamba_build(tmp_path / "w", "13.0", "2.14", release="2.3.3"))
    fresh = client.get("/simple/mamba-ssm/")
    assert fresh.headers["x-index-cache"] == "miss" and "2.3.3" in fresh.text
