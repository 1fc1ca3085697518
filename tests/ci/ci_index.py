"""A live `factory serve` on a free loopback port, accepting one upload token (the CI tests' index)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
TOKEN = "ci-tests-upload-token"


@contextmanager
def served_index(data: Path, log_path: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    argv = [str(BIN / "factory"), "serve", "--data", str(data), "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--upstream", "none"]
    url = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        server = subprocess.Popen(argv, env={**os.environ, "FACTORY_UPLOAD_TOKENS": TOKEN}, stdout=log, stderr=log)
        try:
            for _ in range(150):
                try:
                    httpx.get(f"{url}/simple/", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            else:
                raise AssertionError(f"factory serve did not start: {log_path.read_text()}")
            yield url
        finally:
            server.terminate()
            server.wait(timeout=20)
