"""Publishing a cell's wheels (`factory workflow publish`, the uploader build-cell uses) to a real
`factory serve` on loopback."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest
from ci_index import TOKEN

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent


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


def publish(index_url: str, token: str, wheels: list[Path]) -> subprocess.CompletedProcess[str]:
    """`factory workflow publish`: the uploader each cell's build-cell uses after each Python."""
    env = {**os.environ, "FACTORY_UPLOAD_TOKEN": token}
    argv = [str(BIN / "factory"), "workflow", "publish", "--index", index_url, *map(str, wheels)]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


def files_of(index: str, project: str) -> dict[str, str]:
    page = httpx.get(f"{index}/simple/{project}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    return {f["filename"]: f["hashes"]["sha256"] for f in page.json()["files"]} if page.status_code == 200 else {}


@pytest.mark.integration
def test_publish_uploads_to_the_index(index: str, tmp_path: Path) -> None:
    wheel = write_wheel(tmp_path, "factory_publish_demo", "1.0+cu.13.0.torch.2.14.abi.1")
    done = publish(f"{index}/simple", TOKEN, [wheel])  # the URL pip is given works as well as the base
    assert done.returncode == 0, done.stdout + done.stderr
    assert wheel.name in files_of(index, "factory-publish-demo")  # (beside the index's sentinel sdist)
    # a re-run (the job retried, the schedule publishes again): identical bytes under the name are a success
    again = publish(index, TOKEN, [wheel])
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already present with identical content" in again.stdout
    refused = publish(index, "not-the-token", [wheel])
    assert refused.returncode != 0 and "403" in refused.stdout


@pytest.mark.integration
def test_publish_tries_every_file_and_fails_on_other_bytes(index: str, tmp_path: Path) -> None:
    """Another publisher took the name (409): that file fails with the index's message, the others are
    still uploaded, and the command fails."""
    (tmp_path / "raced").mkdir()
    theirs = write_wheel(tmp_path / "raced", "factory_publish_demo", "1.0+cu.13.0.torch.2.14.abi.1", b"# theirs\n")
    assert publish(index, TOKEN, [theirs]).returncode == 0
    (tmp_path / "job").mkdir()
    ours = write_wheel(tmp_path / "job", "factory_publish_demo", "1.0+cu.13.0.torch.2.14.abi.1", b"# ours\n")
    assert ours.name == theirs.name and ours.read_bytes() != theirs.read_bytes()
    other = write_wheel(tmp_path / "job", "factory_publish_other", "1.0+cu.13.0.torch.2.14.abi.1")
    done = publish(index, TOKEN, [ours, other])
    assert done.returncode != 0
    assert f"::error::{ours.name}: the index holds other bytes under this name" in done.stdout
    assert "already exists with other content" in done.stdout
    assert "2 wheels, 1 not published" in done.stdout
    assert other.name in files_of(index, "factory-publish-other")
    held = files_of(index, "factory-publish-demo")
    assert held[theirs.name] == hashlib.sha256(theirs.read_bytes()).hexdigest()  # theirs stays
