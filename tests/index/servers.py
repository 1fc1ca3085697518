"""Helpers for integration tests: free ports, processes that serve, clean client environments."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client_env(tmp: Path) -> dict[str, str]:
    """An environment in which pip and uv see only the indexes a test names (no pip.conf, no find-links)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        PIP_CERT=os.environ.get("PIP_CERT", ""),
        PIP_CACHE_DIR=str(tmp / "pip-cache"),
        UV_CACHE_DIR=str(tmp / "uv-cache"),
        UV_NO_CONFIG="1",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    if not env["PIP_CERT"]:
        del env["PIP_CERT"]
    return env


class Served:
    """A child process serving HTTP on 127.0.0.1:port; stopped by `stop()`."""

    def __init__(
        self, argv: list[str], port: int, log: Path, env: dict[str, str] | None = None, ready_path: str = "/"
    ) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(argv, stdout=self._out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(self.url + ready_path, timeout=1)
                break
            except httpx.HTTPError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"{argv} did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


def static_server(directory: Path, log: Path) -> Served:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "http.server",
        str(port),
        "--bind",
        "127.0.0.1",
        "--directory",
        str(directory),
    ]
    return Served(argv, port, log)


def run(
    argv: list[str], env: dict[str, str], timeout: float = 300, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd)


def python311() -> str:
    """CPython 3.11, which the test wheels (cp311) and torch's pins need: this one, else python3.11 on PATH."""
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    found = shutil.which("python3.11")
    if found is None:
        pytest.skip("needs CPython 3.11 (the test wheels are cp311): install it and put python3.11 on PATH")
    return found


def make_venv(path: Path, env: dict[str, str], pip: str | None) -> Path:
    """A Python 3.11 venv with `pip` ('X.Y', 'latest', or None: the bundled one); returns python."""
    subprocess.run([python311(), "-m", "venv", str(path)], check=True, env=env, timeout=120)
    python = path / "bin" / "python"
    if pip is not None:
        spec = "pip" if pip == "latest" else f"pip=={pip}"
        done = run([str(python), "-m", "pip", "install", "-q", "-U", spec], env)
        if done.returncode != 0:
            raise RuntimeError(f"could not install {spec} from PyPI: {done.stderr[-2000:]}")
    return python
