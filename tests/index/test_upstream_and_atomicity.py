"""Pass-through cache and TTL (no network: an httpx mock transport), and crash-safe ingest."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from fake_dists import wheel_bytes

from index_server.errors import UpstreamError
from index_server.local import LocalIndex
from index_server.pages.simple import ProjectPage
from index_server.upstream import Upstream


def test_upstream_json_page_is_cached_for_the_ttl() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        assert "application/vnd.pypi.simple.v1+json" in request.headers["accept"]
        if request.url.path == "/simple/einops/":
            body = {
                "meta": {"api-version": "1.1"},
                "name": "einops",
                "versions": ["0.8.0"],
                "files": [
                    {
                        "filename": "einops-0.8.0-py3-none-any.whl",
                        "url": "../../f/einops.whl",
                        "hashes": {"sha256": "aa"},
                        "core-metadata": {"sha256": "bb"},
                        "size": 5,
                    }
                ],
            }
            return httpx.Response(200, json=body, headers={"content-type": "application/vnd.pypi.simple.v1+json"})
        if request.url.path == "/simple/broken/":
            return httpx.Response(500)
        return httpx.Response(404)

    now = [0.0]
    up = Upstream(
        "http://up/simple",
        ttl_s=60,
        timeout_s=5,
        failure_ttl_s=5,
        clock=lambda: now[0],
        transport=httpx.MockTransport(handler),
    )

    def project(name: str) -> ProjectPage | None:
        answer = asyncio.run(up.project(name))
        return None if answer is None else answer.page

    page = project("einops")
    assert page is not None and page.links[0].url == "http://up/f/einops.whl"
    assert page.links[0].core_metadata == {"sha256": "bb"} and page.versions == ["0.8.0"]
    assert project("nothing") is None
    project("einops")
    project("nothing")
    assert calls == ["/simple/einops/", "/simple/nothing/"]  # both answers came from the cache
    now[0] = 61.0
    project("einops")
    assert calls[-1] == "/simple/einops/" and len(calls) == 3
    for _ in range(2):
        with pytest.raises(UpstreamError, match="500"):
            project("broken")
    assert calls.count("/simple/broken/") == 1  # the failure is remembered for failure_ttl_s
    now[0] = 67.0
    with pytest.raises(UpstreamError, match="500"):
        project("broken")
    assert calls.count("/simple/broken/") == 2


def test_a_crash_before_the_catalog_commit_leaves_nothing_visible(
    local: LocalIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    filename, data = wheel_bytes("pkg", "1.0")
    path = tmp_path / filename
    path.write_bytes(data)

    def crash(*args: object) -> None:
        raise OSError("simulated crash")

    monkeypatch.setattr(local.store, "commit", crash)  # after .metadata is written, before the rename
    with pytest.raises(OSError, match="simulated crash"):
        local.ingest(path)
    monkeypatch.undo()
    assert local.files() == [] and local.catalog.projects() == []
    assert not list(local.store.tmp.iterdir())  # no partial temp files left
    result = local.ingest(path)  # the retry succeeds and replaces any orphan
    assert result.created and local.files()[0].sha256 == result.sha256
    assert json.loads(json.dumps(local.build_infos())) == []


def test_concurrent_writers_of_one_name_cannot_mix_bytes(tmp_path: Path) -> None:
    """Two LocalIndex instances (as two processes would) race on one filename with different bytes."""
    import hashlib
    import threading

    from index_server.errors import FileConflict

    data_dir = tmp_path / "data"
    sources = []
    for i in range(2):
        filename, data = wheel_bytes("pkg", "1.0", files={"pkg/__init__.py": f"x = {i}\n".encode()})
        (tmp_path / str(i)).mkdir()
        sources.append(tmp_path / str(i) / filename)
        sources[-1].write_bytes(data)
    barrier = threading.Barrier(2, timeout=30)
    outcomes: list[str] = []

    def writer(source: Path) -> None:
        try:
            index = LocalIndex(data_dir)
            barrier.wait()
            index.ingest(source)
            outcomes.append("stored")
        except FileConflict:
            outcomes.append("conflict")
        except BaseException as exc:  # seen by the assert below, never a thread left waiting
            barrier.abort()
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=writer, args=(s,)) for s in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["conflict", "stored"]
    (record,) = LocalIndex(data_dir).files()
    stored = data_dir / "files" / "pkg" / record.filename
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == record.sha256


def test_processes_opening_one_new_catalog_at_once_all_succeed(tmp_path: Path) -> None:
    """SQLite answers "database is locked" at once to a second opener while a new database turns to
    WAL; the catalog's first open is serialized, so every opener of a fresh data folder succeeds."""
    import threading

    errors: list[str] = []
    for round_ in range(100):
        data_dir = tmp_path / str(round_)
        barrier = threading.Barrier(4, timeout=30)

        def opener(data_dir: Path = data_dir, barrier: threading.Barrier = barrier) -> None:
            try:
                barrier.wait()
                LocalIndex(data_dir).files()
            except BaseException as exc:
                errors.append(repr(exc))

        threads = [threading.Thread(target=opener) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert errors == []
