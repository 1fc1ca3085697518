"""rebuild.yml's publish step, run with bash against a real `factory serve` on loopback."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML (dev extra) reads the workflow files")

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent
TOKEN = "publish-step-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def index(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "FACTORY_UPLOAD_TOKENS": TOKEN}
    argv = [str(BIN / "factory"), "serve", "--data", str(tmp_path / "data"), "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--upstream", "none"]
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{url}/simple/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail(f"factory serve did not start: {(tmp_path / 'serve.log').read_text()}")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def write_wheel(folder: Path, name: str, version: str, body: bytes = b"") -> Path:
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": body,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    digest = {p: base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b"=").decode() for p, d in files.items()}
    record = "".join(f"{p},sha256={digest[p]},{len(d)}\n" for p, d in files.items()) + f"{dist_info}/RECORD,,\n"
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for p, d in files.items():
            z.writestr(p, d)
        z.writestr(f"{dist_info}/RECORD", record)
    return path


def publish_step(index_url: str, token: str) -> tuple[str, dict[str, str]]:
    """The upload step's `run` and `env`, with the secrets GitHub would substitute into the env."""
    doc = yaml.safe_load((ROOT / ".github" / "workflows" / "rebuild.yml").read_text())
    step = next(s for s in doc["jobs"]["publish"]["steps"] if "twine upload" in str(s.get("run", "")))
    secrets = {"${{ secrets.FACTORY_INDEX_URL }}": index_url, "${{ secrets.FACTORY_UPLOAD_TOKEN }}": token}
    env = {}
    for key, value in (step.get("env") or {}).items():
        for placeholder, secret in secrets.items():
            value = str(value).replace(placeholder, secret)
        env[key] = value
    assert "${{" not in str(step["run"]), "the run line must not hold secrets"
    return str(step["run"]), env


def run(step: tuple[str, dict[str, str]], cwd: Path) -> subprocess.CompletedProcess[str]:
    script, step_env = step
    env = {**os.environ, **step_env, "PATH": f"{BIN}:{os.environ['PATH']}"}
    argv = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.integration
def test_publish_step_uploads_to_the_index(index: str, tmp_path: Path) -> None:
    work = tmp_path / "job"
    (work / "dist").mkdir(parents=True)
    wheel = write_wheel(work / "dist", "factory_publish_demo", "1.0+cu.13.0.torch.2.14.abi.1")
    done = run(publish_step(index, TOKEN), work)
    assert done.returncode == 0, done.stdout + done.stderr
    page = httpx.get(f"{index}/simple/factory-publish-demo/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    assert page.status_code == 200
    assert wheel.name in [f["filename"] for f in page.json()["files"]]  # (beside the index's sentinel sdist)
    # a re-run (the schedule publishes again): identical bytes under the name are a success
    again = run(publish_step(index, TOKEN), work)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already present with identical content" in again.stdout + again.stderr
    # a wrong token is refused
    refused = run(publish_step(index, "not-the-token"), work)
    assert refused.returncode != 0


@pytest.mark.integration
def test_publish_step_tries_every_file_and_fails_on_other_bytes(index: str, tmp_path: Path) -> None:
    """Another publisher took the name (409): that file fails the job with the index's message, and the
    step still uploads every other file (twine alone stops at the first refusal)."""
    raced = tmp_path / "raced"
    raced.mkdir()
    theirs = write_wheel(raced, "factory_publish_demo", "1.0+cu.13.0.torch.2.14.abi.1", b"# theirs\n")
    assert (
        run(
            ('twine upload --repository-url "$TWINE_REPOSITORY_URL" raced/*.whl', publish_step(index, TOKEN)[1]),
            tmp_path,
        ).returncode
        == 0
    )

    work = tmp_path / "job"
    (work / "dist").mkdir(parents=True)
    ours = write_wheel(work / "dist", "factory_publish_demo", "1.0+cu.13.0.torch.2.14.abi.1", b"# ours\n")
    assert ours.name == theirs.name and ours.read_bytes() != theirs.read_bytes()
    # sorted after the conflicting one, so a stop at the first refusal would leave it out
    other = write_wheel(work / "dist", "factory_publish_other", "1.0+cu.13.0.torch.2.14.abi.1")
    done = run(publish_step(index, TOKEN), work)
    assert done.returncode != 0
    log = done.stdout + done.stderr
    assert f"::error::{ours.name}: the index refused it: 409" in log
    assert "already exists with other content" in log
    assert "2 wheels, 1 refused" in log
    page = httpx.get(
        f"{index}/simple/factory-publish-other/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    assert other.name in [f["filename"] for f in page.json()["files"]]
    held = httpx.get(f"{index}/simple/factory-publish-demo/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    (entry,) = [f for f in held.json()["files"] if f["filename"] == theirs.name]
    assert entry["hashes"]["sha256"] == hashlib.sha256(theirs.read_bytes()).hexdigest()  # theirs stays
