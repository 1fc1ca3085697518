"""The servers compared: `factory serve`, nginx on `factory export-static`, pypiserver and devpi-server
(each from PyPI in its own venv), all on loopback, all serving the same catalog."""

from __future__ import annotations

import shutil
from pathlib import Path

from bench_tools import VENV_BIN, Server, free_port, run, venv_with

NGINX_CONF = """worker_processes {workers};
user root;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  include /etc/nginx/mime.types;
  # PEP 691 on a static tree: the JSON file when the client asks for JSON, else the HTML one.
  map $http_accept $simple_index {{ "~application/vnd\\.pypi\\.simple\\.v1\\+json" index.json; default index.html; }}
  server {{
    listen 127.0.0.1:{port};
    root {export};
    location ~ /simple/ {{ index $simple_index; }}
  }}
}}
"""


def factory_serve(data: Path, workers: int, logs: Path) -> Server:
    port = free_port()
    argv = [str(VENV_BIN / "factory"), "serve", "--data", str(data), "--port", str(port), "--upstream", "none"]
    return Server(
        f"factory serve ({workers} worker)", [*argv, "--workers", str(workers)], port, logs / f"factory-{workers}.log"
    )


def static_export(data: Path, out: Path) -> Path:
    if not (out / "simple" / "index.html").exists():
        shutil.rmtree(out, ignore_errors=True)
        run([str(VENV_BIN / "factory"), "export-static", "--data", str(data), "--out", str(out)])
    return out


def nginx(export: Path, workers: int, root: Path) -> Server:
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = root / f"nginx-{workers}.conf"
    conf.write_text(NGINX_CONF.format(workers=workers, root=root, port=port, export=export.resolve()))
    argv = ["nginx", "-p", str(root), "-c", str(conf), "-g", "daemon off;"]
    return Server(f"nginx ({workers} worker)", argv, port, root / f"nginx-{workers}.log")


def flat_dir(files: list[Path], out: Path) -> Path:
    """The files a peer serves, as hard links in one folder (pypiserver and devpi take a folder)."""
    out.mkdir(parents=True, exist_ok=True)
    for path in files:
        target = out / path.name
        if not target.exists():
            target.hardlink_to(path)
    return out


def pypiserver(venvs: Path, packages: Path, logs: Path) -> tuple[Server, str]:
    bin_dir = venv_with(venvs, "pypiserver", ["pypiserver"])
    port = free_port()
    argv = [
        str(bin_dir / "pypi-server"),
        "run",
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "-a",
        ".",
        "-P",
        ".",
        str(packages),
    ]
    version = run([str(bin_dir / "pypi-server"), "--version"]).strip().splitlines()[-1]
    return Server("pypiserver", argv, port, logs / "pypiserver.log", ready="/simple/"), version


def devpi(venvs: Path, packages: Path, work: Path, logs: Path) -> tuple[Server, str]:
    """devpi-server with an index root/bench (no PyPI mirror base) holding `packages`, uploaded once."""
    bin_dir = venv_with(venvs, "devpi", ["devpi-server", "devpi-client"])
    serverdir = work / "devpi-server"
    fresh = not (serverdir / ".nodeinfo").exists()
    if fresh:
        shutil.rmtree(serverdir, ignore_errors=True)
        run([str(bin_dir / "devpi-init"), "--serverdir", str(serverdir), "--no-root-pypi"])
    port = free_port()
    argv = [str(bin_dir / "devpi-server"), "--serverdir", str(serverdir), "--host", "127.0.0.1", "--port", str(port)]
    server = Server("devpi-server", argv, port, logs / "devpi.log", ready="/+api")
    marker = work / "devpi-server.uploaded"
    if not marker.exists():
        client = work / "devpi-client"
        devpi_cmd = [str(bin_dir / "devpi"), "--clientdir", str(client)]
        run([*devpi_cmd, "use", server.url])
        run([*devpi_cmd, "login", "root", "--password", ""])
        run([*devpi_cmd, "index", "-c", "root/bench", "bases=", "volatile=True"])
        run([*devpi_cmd, "use", "root/bench"])
        run([*devpi_cmd, "upload", "--from-dir", str(packages)], timeout=3600)
        marker.write_text("ok")
    version = run([str(bin_dir / "devpi-server"), "--version"]).strip().splitlines()[-1]
    return server, version


def factory_serve_logged(data: Path, work: Path, *, upstream: bool = False) -> tuple[Server, Path]:
    """`factory serve` with an access log (fresh for each start); upstream pass-through to PyPI if asked."""
    port = free_port()
    log = work / f"access-{port}.log"
    argv = [str(VENV_BIN / "factory"), "serve", "--data", str(data), "--port", str(port), "--access-log", str(log)]
    if not upstream:
        argv += ["--upstream", "none"]
    return Server("factory serve", argv, port, work / f"factory-{port}.log"), log
