"""How long `GET /` and a hosted project's pages take while 60 requests wait on an upstream that never
answers (issue 20: they took 15 s when pass-through ran in the worker threads).

    .venv/bin/python benchmarks/upstream_stall.py [--pending 60] [--samples 20] [--pythonpath OLD_TREE]

The upstream is a socket on loopback that accepts connections and never replies. `factory serve` runs
with it as `--upstream`; `--pythonpath` runs another checkout's `index_server`/`factory` instead (for the
figure before a change). Prints latencies (median and worst of `--samples` sequential requests per URL),
idle and under load; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.append(str(Path(__file__).resolve().parents[1] / "tests" / "index"))

import contextlib

from bench_tools import factory_serve_from
from fake_dists import mamba_build

from index_server.local import LocalIndex

URLS = [
    ("GET /", "/", None),
    ("GET /project/mamba-ssm/ (web page)", "/project/mamba-ssm/", None),
    ("GET /simple/mamba-ssm/ (Simple JSON)", "/simple/mamba-ssm/", "application/vnd.pypi.simple.v1+json"),
]


class SilentUpstream:
    """Accepts every connection on 127.0.0.1 and never sends a byte."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/simple/"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.sock.close()


def latencies(url: str, accept: str | None, samples: int) -> list[float]:
    headers = {"Accept": accept} if accept else {}
    times = []
    with httpx.Client(timeout=300) as client:
        for _ in range(samples):
            start = time.perf_counter()
            response = client.get(url, headers=headers)
            times.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{url}: {response.status_code} {response.text[:200]}")
    return times


def wait_on(url: str) -> None:
    """One request left waiting on the upstream; its end (an error once the server stops) is not the point."""
    with contextlib.suppress(httpx.HTTPError):
        httpx.get(url, timeout=600)


def report(label: str, times: list[float]) -> str:
    return f"{label}: median {statistics.median(times):.1f} ms, worst {max(times):.1f} ms ({len(times)} requests)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pending", type=int, default=60, help="requests left waiting on the upstream")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--pythonpath", type=Path, help="a tree whose index_server/factory to run instead")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="upstream-stall-"))
    LocalIndex(work / "data").ingest(mamba_build(work / "wheels", "13.0", "2.14"))
    upstream = SilentUpstream()
    serve_args = ["--data", str(work / "data"), "--upstream", upstream.url]
    server = factory_serve_from(work, serve_args, dict(os.environ), args.pythonpath)
    try:
        print(f"machine load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
        for label, path, accept in URLS:
            print("idle      " + report(label, latencies(server.url + path, accept, args.samples)))
        waiting = [
            threading.Thread(target=wait_on, args=(f"{server.url}/simple/pass-through-{i}/",), daemon=True)
            for i in range(args.pending)
        ]
        for thread in waiting:
            thread.start()
        deadline = time.monotonic() + 30
        while len(upstream.held) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # let every pending request reach the server
        print(f"{args.pending} requests pending on the upstream ({len(upstream.held)} upstream connections open)")
        for label, path, accept in URLS:
            print("pending   " + report(label, latencies(server.url + path, accept, args.samples)))
    finally:
        server.stop()
        upstream.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
