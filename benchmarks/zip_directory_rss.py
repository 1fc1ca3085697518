"""Peak memory of `factory serve` while it refuses a wheel whose central directory lists 1.5 M entries
(issue 20: 75 -> 790 MB before the member limit refused it).

    .venv/bin/python benchmarks/zip_directory_rss.py [--entries 1500000] [--pythonpath OLD_TREE]

The upload is built from bytes (one stored member listed `--entries` times, zip64 end records) and sent
to `/legacy/` like twine sends it. The server's RSS is read from /proc: idle after a warm-up, its peak
(VmHWM, reset through clear_refs just before the upload) and the difference. Prints figures; asserts
nothing. `--pythonpath` runs another checkout's code (for the figure before a change).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.append(str(Path(__file__).resolve().parents[1] / "tests" / "index"))

from bench_tools import factory_serve_from
from hostile_builders import zip_directory

TOKEN = "bench-token"


def memory_kb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_500_000)
    parser.add_argument("--pythonpath", type=Path, help="a tree whose index_server/factory to run instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zip-directory-rss-") as tmp:  # the 78 MB wheel goes with it
        work = Path(tmp)
        wheel = work / "pkg-1.0-py3-none-any.whl"
        wheel.write_bytes(zip_directory(args.entries))
        print(f"{wheel.name}: {wheel.stat().st_size / 1e6:.1f} MB, a central directory of {args.entries} entries")
        env = {**os.environ, "FACTORY_UPLOAD_TOKENS": TOKEN}
        server = factory_serve_from(work, ["--data", str(work / "data"), "--upstream", "none"], env, args.pythonpath)
        try:
            for path in ("/", "/simple/", "/project/none/"):
                httpx.get(server.url + path, timeout=30)
            time.sleep(1)
            idle = memory_kb(server.proc.pid)
            Path(f"/proc/{server.proc.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
            digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
            started = time.perf_counter()
            with wheel.open("rb") as body:
                response = httpx.post(
                    f"{server.url}/legacy/",
                    data={":action": "file_upload", "sha256_digest": digest},
                    files={"content": (wheel.name, body)},
                    auth=("__token__", TOKEN),
                    timeout=600,
                )
            took = time.perf_counter() - started
            after = memory_kb(server.proc.pid)
        finally:
            server.stop()
        print(f"answer: {response.status_code} {response.text[:160]} ({took:.1f} s)")
        print(f"server RSS idle {idle['VmRSS'] / 1024:.0f} MB; peak while refusing {after['VmHWM'] / 1024:.0f} MB")
        print(f"peak above idle: {(after['VmHWM'] - idle['VmRSS']) / 1024:.0f} MB")
        return 0


if __name__ == "__main__":
    sys.exit(main())
