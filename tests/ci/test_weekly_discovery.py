"""The scheduled run sees what is new: rebuild.yml's discover and plan steps, run as written with bash,
against the recorded PyPI served on loopback with one release more (mamba-ssm 2.3.3): the plan's batches
hold that release's cells, and the tables the cells' jobs install (the factory-tables artifact) list it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from discover.fake_pypi import FakePyPI, sdist_bytes

yaml = pytest.importorskip("yaml", reason="PyYAML (dev extra) reads the workflow files")

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent
NEW = "2.3.3"


@pytest.fixture
def pypi() -> Iterator[str]:
    """The recorded PyPI (tests/discover/fake_pypi.py) on a loopback port, with mamba-ssm 2.3.3 added."""
    data = sdist_bytes({"setup.py": "", "csrc/selective_scan/selective_scan.cu": "// kernel"}, f"mamba_ssm-{NEW}")
    row = {"filename": f"mamba_ssm-{NEW}.tar.gz", "url": f"../../packages/zz/mamba_ssm-{NEW}.tar.gz",
           "packagetype": "sdist", "size": len(data), "digests": {"sha256": hashlib.sha256(data).hexdigest()},
           "yanked": False, "requires_python": ">=3.10"}  # fmt: skip

    def edit(name: str, project: dict[str, Any]) -> None:
        if name == "mamba-ssm":
            project["releases"][NEW] = [row]

    fake = FakePyPI(edit)
    fake.files[row["filename"]] = data

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = {k: v for k, v in self.headers.items() if k.lower() in ("range", "accept")}
            answer = fake(httpx.Request("GET", f"http://pypi.test{self.path}", headers=headers))
            body = answer.read()
            self.send_response(answer.status_code)
            for key in ("content-type", "content-range"):
                if key in answer.headers:
                    self.send_header(key, answer.headers[key])
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script]
    full = {**os.environ, **env, "PATH": f"{BIN}:{os.environ['PATH']}"}
    return subprocess.run(argv, cwd=cwd, env=full, capture_output=True, text=True, timeout=600)


def test_a_week_with_a_new_release_plans_its_cells(pypi: str, tmp_path: Path) -> None:
    steps = yaml.safe_load((ROOT / ".github" / "workflows" / "rebuild.yml").read_text())["jobs"]["plan"]["steps"]
    discover = next(s for s in steps if "factory discover" in str(s.get("run", "")))
    plan = next(s for s in steps if s.get("id") == "plan")
    tables = next(s for s in steps if "upload-artifact" in str(s.get("uses", "")))
    work = tmp_path / "checkout"
    work.mkdir()
    shutil.copy(ROOT / "matrix.toml", work / "matrix.toml")
    files = {k: tmp_path / k.lower() for k in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")}
    env = {k: str(v) for k, v in files.items()} | {"FACTORY_PYPI_URL": pypi, "COLUMNS": "160"}

    found = run(discover["run"], env, work)
    assert found.returncode == 0, found.stdout + found.stderr  # exit 3 of discover: news, the run goes on
    assert "::notice::PyPI has news" in found.stdout
    for path in tables["with"]["path"].split():  # what the cells' jobs get as factory-tables
        assert (work / path).is_file(), path
    assert f'version = "{NEW}"' in (work / "work" / "tables" / "releases.toml").read_text()

    env |= {"PROFILE": "", "FACTORY_INDEX_URL": "", "FACTORY_PROFILE_INDEX_URL": ""}
    planned = run(plan["run"], env, work)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    out = dict(line.split("=", 1) for line in files["GITHUB_OUTPUT"].read_text().splitlines() if "=" in line)
    cells = [c for n in range(1, 5) for c in json.loads(out[f"batch{n}"])["include"]]
    new = [c for c in cells if c["package"] == "mamba-ssm" and c["version"] == NEW]
    assert new, "the plan has no cell of mamba-ssm 2.3.3"
    assert all("3.9" not in c["pythons"] for c in new)  # its own Requires-Python (>=3.10)
    # with the packaged tables (the plan before this change) there would be none
    packaged = subprocess.run([BIN / "factory", "plan", "--json", "--cells"], cwd=work, capture_output=True, text=True)
    assert not [c for c in json.loads(packaged.stdout)["cells"] if c["package"] == "mamba-ssm" and c["version"] == NEW]
