"""`factory serve --workers 2`: each worker's page cache follows catalog writes made by other processes.

Every request goes over a new connection, so the kernel hands it to either worker; each answer names its
worker (`--worker-header`), and the test checks those pids are the serve process's own children, so
"both workers answered" is observed, not assumed.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fake_dists import mamba_build
from servers import VENV_BIN, Served, client_env, free_port

from index_server.local import LocalIndex

pytestmark = pytest.mark.integration

JSON = "application/vnd.pypi.simple.v1+json"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[Served, Path]]:
    data = tmp_path / "data"
    local = LocalIndex(data)
    for cuda, torch in (("12.8", "2.9"), ("13.0", "2.14")):
        local.ingest(mamba_build(tmp_path / "builds", cuda, torch))
    port = free_port()
    argv = [str(VENV_BIN / "factory"), "serve", "--data", str(data), "--port", str(port), "--upstream", "none"]
    served = Served(
        [*argv, "--workers", "2", "--worker-header"], port, tmp_path / "serve.log", env=client_env(tmp_path)
    )
    yield served, data
    served.stop()


def _parent_of(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1])


def per_worker(
    served: Served, path: str, accept: str | None = None, want: Callable[[httpx.Response], bool] = lambda r: True
) -> dict[int, list[httpx.Response]]:
    """Answers to GET `path` grouped by worker pid, until both workers gave one that `want` accepts.

    Requests go eight at a time, each on its own connection, so both workers accept some.
    """
    headers = {"Accept": accept} if accept else {}
    seen: dict[int, list[httpx.Response]] = {}

    def fetch(_: int) -> httpx.Response:
        return httpx.get(served.url + path, headers=headers, timeout=10)

    with ThreadPoolExecutor(8) as pool:
        for _ in range(100):
            for response in pool.map(fetch, range(8)):
                seen.setdefault(int(response.headers["x-index-worker"]), []).append(response)
            if len(seen) == 2 and all(any(want(r) for r in rs) for rs in seen.values()):
                break
    assert len(seen) == 2, f"only worker(s) {sorted(seen)} answered 800 requests"
    for pid in seen:
        assert _parent_of(pid) == served.proc.pid, f"{pid} is not a worker of the serve process"
    return seen


def _other_process(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=60)


def test_workers_see_ingest_and_yank_from_another_process(two_workers: tuple[Served, Path], tmp_path: Path) -> None:
    served, data = two_workers
    page = "/simple/mamba-ssm/"

    def hit(r: httpx.Response) -> bool:
        return r.headers.get("x-index-cache") == "hit"

    before = per_worker(served, page, want=hit)
    before_json = per_worker(served, page, JSON, want=hit)
    etags = {r.headers["etag"] for rs in before.values() for r in rs}
    assert len(etags) == 1, "both workers render the same page with the same ETag"
    (old_etag,) = etags
    assert all(r.status_code == 200 and "2.3.3" not in r.text for rs in before.values() for r in rs)
    assert all(any(hit(r) for r in rs) for rs in [*before.values(), *before_json.values()])

    # A new release published by another process (as `factory run` would, into the same folder).
    new = mamba_build(tmp_path / "new", "13.0", "2.14", release="2.3.3")
    _other_process(
        f"from pathlib import Path; from index_server.local import LocalIndex; "
        f"LocalIndex(Path({str(data)!r})).ingest(Path({str(new)!r}))"
    )
    after = per_worker(served, page)
    after_json = per_worker(served, page, JSON)
    for responses in after.values():  # every answer, the first of each worker included
        assert all(r.status_code == 200 and new.name in r.text and r.headers["etag"] != old_etag for r in responses)
    for responses in after_json.values():
        assert all(new.name in [f["filename"] for f in r.json()["files"]] for r in responses)
    (new_etag,) = {r.headers["etag"] for rs in after.values() for r in rs}
    metadata = per_worker(served, f"/files/mamba-ssm/{new.name}.metadata")
    assert all(r.status_code == 200 and b"Version: 2.3.3" in r.content for rs in metadata.values() for r in rs)

    # Yanked by `factory yank`, another process again.
    done = subprocess.run(
        [str(VENV_BIN / "factory"), "yank", "--data", str(data), new.name, "--reason", "broken"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    yanked = per_worker(served, page, JSON)
    for responses in yanked.values():
        for r in responses:
            (entry,) = [f for f in r.json()["files"] if f["filename"] == new.name]
            assert entry["yanked"] == "broken"
    html = per_worker(served, page)
    assert all('data-yanked="broken"' in r.text and r.headers["etag"] != new_etag for rs in html.values() for r in rs)
