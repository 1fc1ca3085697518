"""What the benchmark suite runs: servers on loopback, wrk, apt and venv installs (the only module here
that starts processes)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

# Printed by wrk once at the end (no per-response callback, which would slow wrk itself down).
WRK_SUMMARY_LUA = """
done = function(summary, latency, requests)
  io.write(string.format('WRK_JSON {"requests": %d, "bytes": %d, "non2xx3xx": %d, "connect": %d, '
    .. '"read": %d, "write": %d, "timeout": %d, "duration_us": %d}\\n',
    summary.requests, summary.bytes, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout, summary.duration))
end
"""


class BenchError(Exception):
    """A tool is missing or a server did not start; the message says which and how to fix it."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 3600) -> str:
    """Run a command, return its stdout+stderr; raise BenchError with its tail when it fails."""
    print("$ " + " ".join(argv), flush=True)
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise BenchError(f"{argv[0]} exited {done.returncode}:\n{(done.stdout + done.stderr)[-3000:]}")
    return done.stdout + done.stderr


def ensure_debian(commands: dict[str, str]) -> None:
    """Install the Debian package of each missing command ({command: package}) with apt-get."""
    missing = sorted({pkg for cmd, pkg in commands.items() if shutil.which(cmd) is None})
    if not missing:
        return
    if os.geteuid() != 0:
        raise BenchError(f"missing {', '.join(missing)}: run `sudo apt-get install {' '.join(missing)}`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        run(["apt-get", "install", "-y", "-qq", *missing], env=env)
    except BenchError:
        run(["apt-get", "update", "-qq"], env=env)
        run(["apt-get", "install", "-y", "-qq", *missing], env=env)


def venv_with(root: Path, name: str, requirements: list[str]) -> Path:
    """A venv under root/name holding `requirements` (made once, reused); returns its bin folder."""
    venv = root / name
    marker = venv / ".installed"
    if marker.exists() and marker.read_text() == " ".join(requirements):
        return venv / "bin"
    shutil.rmtree(venv, ignore_errors=True)
    run([sys.executable, "-m", "venv", str(venv)])
    run([str(venv / "bin" / "pip"), "install", "-q", *requirements])
    marker.write_text(" ".join(requirements))
    return venv / "bin"


def pip_version(bin_dir: Path, dist: str) -> str:
    out = run([str(bin_dir / "python"), "-c", f"import importlib.metadata as m; print(m.version({dist!r}))"])
    return out.strip().splitlines()[-1]


def factory_serve_from(work: Path, serve_args: list[str], env: dict[str, str], pythonpath: Path | None) -> Server:
    """`factory serve SERVE_ARGS` on a free port, started in `work`; with `pythonpath`, another checkout's
    `factory`/`index_server` instead of this one (for a figure before a change)."""
    argv = [str(VENV_BIN / "factory"), "serve", *serve_args]
    if pythonpath is not None:
        env = {**env, "PYTHONPATH": str(pythonpath)}
        argv = [str(VENV_BIN / "python"), "-c", "import sys; from factory.cli import main; sys.exit(main())", *argv[1:]]
    port = free_port()
    # From the work folder: `python -c` puts the working directory first on sys.path.
    return Server("factory serve", [*argv, "--port", str(port)], port, work / "serve.log", env=env, cwd=work)


class Server:
    """A process serving HTTP on 127.0.0.1:port until `stop()`; its output goes to `log`."""

    def __init__(self, name: str, argv: list[str], port: int, log: Path, *, ready: str = "/", **popen: object) -> None:
        self.name = name
        self.argv = argv
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        print("$ " + " ".join(argv), flush=True)
        self._out = log.open("wb")
        self.proc = subprocess.Popen(argv, stdout=self._out, stderr=subprocess.STDOUT, **popen)  # type: ignore[call-overload]
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(self.url + ready, timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"{name} did not start ({' '.join(argv)}):\n{log.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


@dataclass(frozen=True, kw_only=True)
class WrkResult:
    command: str
    raw: str
    requests: int
    seconds: float
    bytes: int
    bad_status: int  # non-2xx/3xx answers
    socket_errors: int

    @property
    def req_s(self) -> float:
        return self.requests / self.seconds

    @property
    def mb_s(self) -> float:
        return self.bytes / self.seconds / 1e6

    @property
    def bytes_per_response(self) -> float:
        return self.bytes / max(self.requests, 1)


def wrk(
    url: str, *, duration: str, connections: int, threads: int = 1, accept: str | None = None, lua: Path
) -> WrkResult:
    """Run wrk (no If-None-Match is ever sent, so every answer is a full one unless the server errs)."""
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", "-s", str(lua)]
    if accept:
        argv += ["-H", f"Accept: {accept}"]
    argv.append(url)
    raw = run(argv, timeout=600)
    line = next(x for x in raw.splitlines() if x.startswith("WRK_JSON "))
    summary = json.loads(line.removeprefix("WRK_JSON "))
    shown = " ".join(a if " " not in a else f"'{a}'" for a in argv)
    return WrkResult(
        command=shown,
        raw=raw.strip(),
        requests=summary["requests"],
        seconds=summary["duration_us"] / 1e6,
        bytes=summary["bytes"],
        bad_status=summary["non2xx3xx"],
        socket_errors=sum(summary[k] for k in ("connect", "read", "write", "timeout")),
    )
