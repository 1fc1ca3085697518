"""Pass-through against hostile and broken upstreams on loopback: hosted names never answered from
upstream, no credential sent out, a hanging upstream that cannot stall the index, names checked before
any fetch, upstream redirects and hrefs not trusted."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import ROOT_MAP, TestClient
from fake_dists import mamba_build
from fake_upstream import HANG, Answer, FakeUpstream, LiveApp, html_page

from factory.cli import build_parser
from factory.commands.serve import settings_from_args
from index_server.app import create_app
from index_server.local import LocalIndex
from index_server.settings import IndexSettings

pytestmark = pytest.mark.integration

JSON = "application/vnd.pypi.simple.v1+json"
ATTACKER = "http://attacker.example/files/mamba_ssm-99.0-cp311-cp311-linux_x86_64.whl"


def hostile(path: str) -> Answer:
    """Every name upstream lists a file of the attacker's."""
    name = path.strip("/").split("/")[-1]
    return html_page((ATTACKER, f"{name.replace('-', '_')}-99.0-cp311-cp311-linux_x86_64.whl"))


@pytest.fixture
def attacker() -> Iterator[FakeUpstream]:
    server = FakeUpstream(hostile)
    yield server
    server.stop()


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)


def serve_settings(data: Path, upstream: str, *extra: str) -> IndexSettings:
    """The settings `factory serve` makes of its options (the production path, matrix and all)."""
    args = build_parser().parse_args(["serve", "--data", str(data), "--upstream", upstream, *extra])
    return settings_from_args(args, {})


def plain_settings(data: Path, upstream: str, **kwargs: object) -> IndexSettings:
    return IndexSettings(data_dir=data, upstream_url=upstream, root_cuda_major=ROOT_MAP, **kwargs)  # type: ignore[arg-type]


# 1. dependency confusion


@pytest.mark.parametrize("prefix", ["", "cu12/", "cu13/"])
def test_a_hosted_name_on_a_fresh_index_is_never_answered_from_upstream(
    prefix: str, attacker: FakeUpstream, tmp_path: Path
) -> None:
    with TestClient(create_app(serve_settings(tmp_path / "data", attacker.url + "/simple/"))) as client:
        for name in ("mamba-ssm", "causal-conv1d"):
            html = client.get(f"/{prefix}simple/{name}/")
            page = client.get(f"/{prefix}simple/{name}/", headers={"Accept": JSON})
            assert html.status_code == page.status_code == 200, html.text
            assert "attacker" not in html.text and "attacker" not in page.text
            filenames = [f["filename"] for f in page.json()["files"]]
            assert filenames == [f"{name.replace('-', '_')}-0.0.0.tar.gz"]  # the sentinel only
            sentinel = client.get(f"/files/{name}/{filenames[0]}")
            assert sentinel.status_code == 200 and sentinel.headers["content-type"] == "application/gzip"
            assert client.get(f"/project/{name}/").status_code == 200
    assert not [p for p in attacker.paths() if "mamba" in p or "causal" in p]


def test_a_configured_hosted_name_and_a_channel_without_its_build_stay_off_upstream(
    attacker: FakeUpstream, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    LocalIndex(data).ingest(mamba_build(tmp_path / "b", "12.8", "2.9"))  # a cu12 build only
    settings = serve_settings(data, attacker.url + "/simple/", "--hosted", "our-private-pkg")
    with TestClient(create_app(settings)) as client:
        page = client.get("/cu13/simple/mamba-ssm/", headers={"Accept": JSON})
        assert page.status_code == 200 and [f["filename"] for f in page.json()["files"]] == ["mamba_ssm-0.0.0.tar.gz"]
        private = client.get("/simple/our-private-pkg/", headers={"Accept": JSON})
        assert private.status_code == 200 and "attacker" not in private.text
        assert client.get("/simple/einops/").status_code == 200  # what is not hosted still passes through
    assert attacker.paths() == ["/simple/einops/"]


# 2. credentials


def relative_links(path: str) -> Answer:
    if path.startswith("/simple/broken/"):
        return Answer(status=500, body=b"down")
    return html_page(
        ("../../packages/einops-0.8.0-py3-none-any.whl#sha256=" + "a" * 64, "einops-0.8.0-py3-none-any.whl")
    )


def test_upstream_credentials_are_used_but_never_sent_to_clients(tmp_path: Path) -> None:
    upstream = FakeUpstream(relative_links)
    try:
        with_password = upstream.url.replace("http://", "http://alice:pa55word@") + "/simple/"
        with TestClient(create_app(serve_settings(tmp_path / "data", with_password))) as client:
            answers = [
                client.get("/simple/einops/"),
                client.get("/simple/einops/", headers={"Accept": JSON}),
                client.get("/cu13/simple/einops/"),
                client.get("/simple/broken/"),
            ]
        assert [a.status_code for a in answers] == [200, 200, 200, 502]
        for answer in answers:
            assert "pa55word" not in answer.text and "alice" not in answer.text, answer.text
            assert "pa55word" not in json.dumps(dict(answer.headers))
        link = answers[1].json()["files"][0]["url"]
        assert link == f"{upstream.url}/packages/einops-0.8.0-py3-none-any.whl"
        assert upstream.seen[0].headers["authorization"] == "Basic YWxpY2U6cGE1NXdvcmQ="  # alice:pa55word
    finally:
        upstream.stop()


# 3. a slow upstream


def test_a_hanging_upstream_stalls_neither_the_home_page_nor_hosted_pages(tmp_path: Path) -> None:
    data = tmp_path / "data"
    LocalIndex(data).ingest(mamba_build(tmp_path / "b", "13.0", "2.14"))
    upstream = FakeUpstream(lambda path: HANG)
    app = LiveApp(create_app(plain_settings(data, upstream.url + "/simple/", upstream_timeout_s=120.0)))
    try:
        stuck: list[httpx.Response | Exception] = []

        def ask(i: int) -> None:
            try:
                stuck.append(httpx.get(f"{app.url}/simple/name-{i}/", timeout=120))
            except httpx.HTTPError as err:
                stuck.append(err)

        threads = [threading.Thread(target=ask, args=(i,), daemon=True) for i in range(61)]
        for thread in threads:
            thread.start()
        wait_until(lambda: len(upstream.seen) >= 4)  # the upstream holds the first fetches
        # Liveness, not speed: with every worker thread waiting on the upstream these waited 120 s.
        home = httpx.get(app.url + "/", timeout=15)
        hosted = httpx.get(app.url + "/project/mamba-ssm/", timeout=15)
        simple = httpx.get(app.url + "/simple/mamba-ssm/", headers={"Accept": JSON}, timeout=15)
        assert home.status_code == hosted.status_code == simple.status_code == 200
        assert len(upstream.seen) <= 16  # bounded concurrency: the others wait without a fetch
    finally:
        upstream.stop()
        app.stop()


def test_concurrent_requests_for_one_name_make_one_fetch_and_failures_are_cached(tmp_path: Path) -> None:
    gate = threading.Event()

    def slow(path: str) -> Answer:
        gate.wait(30)
        if "broken" in path:
            return Answer(status=503, body=b"busy")
        return html_page(("https://files.example/einops-0.8.0-py3-none-any.whl", "einops-0.8.0-py3-none-any.whl"))

    upstream = FakeUpstream(slow)
    app = LiveApp(create_app(plain_settings(tmp_path / "data", upstream.url + "/simple/")))
    try:
        with ThreadPoolExecutor(20) as pool:
            futures = [pool.submit(httpx.get, f"{app.url}/simple/einops/", timeout=60) for _ in range(20)]
            wait_until(lambda: bool(upstream.seen))
            time.sleep(0.5)  # let all 20 arrive while the first fetch is held
            gate.set()
            statuses = [f.result().status_code for f in futures]
        assert statuses == [200] * 20
        assert upstream.paths() == ["/simple/einops/"]
        assert [httpx.get(f"{app.url}/simple/broken/", timeout=60).status_code for _ in range(3)] == [502] * 3
        assert upstream.paths().count("/simple/broken/") == 1  # the failure was cached
    finally:
        upstream.stop()
        app.stop()


def test_the_upstream_timeout_is_an_option_of_factory_serve(tmp_path: Path) -> None:
    settings = serve_settings(tmp_path / "data", "https://pypi.org/simple/", "--upstream-timeout", "2.5")
    assert settings.upstream_timeout_s == 2.5


# 7. names


@pytest.mark.parametrize("raw", ["torch%23", "einops%3Fx%3D1", "einops%00", "einops%2F..%2Ftorch", "a%0Ab", "-x-"])
def test_names_that_are_not_pep_503_never_reach_upstream(raw: str, attacker: FakeUpstream, tmp_path: Path) -> None:
    with TestClient(create_app(plain_settings(tmp_path / "data", attacker.url + "/simple/"))) as client:
        for prefix in ("", "cu13/"):
            answer = client.get(f"/{prefix}simple/{raw}/")
            assert answer.status_code == 404, answer.text
            assert len(answer.content) < 300
    assert attacker.paths() == []


# 8. upstream content


def test_a_redirect_out_of_the_upstreams_origin_is_not_followed(tmp_path: Path) -> None:
    secret = FakeUpstream(lambda path: Answer(body=b'<a href="https://x/secret-1.0.tar.gz">secret-1.0.tar.gz</a>'))

    def redirecting(path: str) -> Answer:
        if path.startswith("/simple/same/"):
            return Answer(status=301, headers={"Location": "/other/same/"})
        if path.startswith("/other/"):
            return html_page(("https://files.example/same-1.0.tar.gz", "same-1.0.tar.gz"))
        return Answer(status=302, headers={"Location": f"{secret.url}/admin/"})

    upstream = FakeUpstream(redirecting)
    try:
        with TestClient(create_app(plain_settings(tmp_path / "data", upstream.url + "/simple/"))) as client:
            away = client.get("/simple/einops/")
            same = client.get("/simple/same/", headers={"Accept": JSON})
        assert away.status_code == 502 and "secret" not in away.text
        assert secret.seen == []
        assert same.status_code == 200 and same.json()["files"][0]["filename"] == "same-1.0.tar.gz"
    finally:
        secret.stop()
        upstream.stop()


def test_only_http_links_of_an_upstream_page_are_copied(tmp_path: Path) -> None:
    anchors = [
        ("javascript:alert(document.domain)", "evil-1.0.tar.gz"),
        ("JavaScript:alert(1)//x.whl", "evil-1.1.tar.gz"),
        ("data:text/html,<script>alert(1)</script>", "evil-1.2.tar.gz"),
        ("file:///etc/passwd", "evil-1.3.tar.gz"),
        ("https://user:pw@files.example/evil-1.4.tar.gz", "evil-1.4.tar.gz"),
        ("https://files.example/evil-2.0.tar.gz", "evil-2.0.tar.gz"),
    ]
    body = json.dumps(
        {
            "meta": {"api-version": "1.1"},
            "name": "json-evil",
            "files": [{"filename": t, "url": h, "hashes": {}} for h, t in anchors],
        }
    ).encode()

    def pages(path: str) -> Answer:
        if "json-evil" in path:
            return Answer(body=body, headers={"Content-Type": JSON})
        return html_page(*anchors)

    upstream = FakeUpstream(pages)
    try:
        with TestClient(create_app(plain_settings(tmp_path / "data", upstream.url + "/simple/"))) as client:
            for name in ("evil", "json-evil"):
                html = client.get(f"/simple/{name}/").text
                files = client.get(f"/simple/{name}/", headers={"Accept": JSON}).json()["files"]
                urls = [f["url"] for f in files]
                assert urls == ["https://files.example/evil-1.4.tar.gz", "https://files.example/evil-2.0.tar.gz"]
                for bad in ("javascript", "JavaScript", "data:", "file:", "pw@"):
                    assert bad not in html
    finally:
        upstream.stop()
