"""Faults against a real `factory serve` on loopback: SIGKILL during 50 concurrent uploads, identical
concurrent uploads, publishing from another process while it serves; and hostile files through twine."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from hostile_builders import Member, TarMember, WheelSpec, sdist
from servers import VENV_BIN, Served, client_env, free_port

pytestmark = pytest.mark.integration

TOKEN = "fault-token"
JSON = "application/vnd.pypi.simple.v1+json"


def serve(data: Path, log: Path) -> Served:
    env = {**client_env(log.parent), "FACTORY_UPLOAD_TOKENS": TOKEN}
    port = free_port()
    argv = [str(VENV_BIN / "factory"), "serve", "--data", str(data), "--port", str(port), "--upstream", "none"]
    return Served(argv, port, log, env=env)


def upload(url: str, filename: str, body: bytes, **fields: str) -> httpx.Response:
    form = {":action": "file_upload", "sha256_digest": hashlib.sha256(body).hexdigest(), **fields}
    return httpx.post(
        f"{url}/legacy/", data=form, files={"content": (filename, body)}, auth=("__token__", TOKEN), timeout=60
    )


def fsck(data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "factory"), "fsck", "--data", str(data)], capture_output=True, text=True, timeout=120
    )


def listed(url: str, project: str) -> dict[str, str]:
    page = httpx.get(f"{url}/simple/{project}/", headers={"Accept": JSON}, timeout=30).json()
    return {f["filename"]: f["hashes"]["sha256"] for f in page["files"] if "-0.0.0" not in f["filename"]}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Served, Path]]:
    data = tmp_path / "data"
    served = serve(data, tmp_path / "serve.log")
    yield served, data
    served.stop()


def test_sigkill_during_50_uploads_loses_nothing_acknowledged_and_serves_nothing_half_written(tmp_path: Path) -> None:
    data = tmp_path / "data"
    wheels = [
        WheelSpec(
            name="kill-probe",
            version=f"1.{i}",
            members=[
                Member(name="kill_probe/__init__.py"),
                Member(name="kill_probe/blob.bin", data=os.urandom(2 << 20)),
            ],
        ).build_bytes()
        for i in range(50)
    ]
    served = serve(data, tmp_path / "first.log")
    acknowledged: list[str] = []
    lock = threading.Lock()

    def send(wheel: tuple[str, bytes]) -> None:
        try:
            response = upload(served.url, *wheel)
        except httpx.HTTPError:
            return
        if response.status_code == 200:
            with lock:
                acknowledged.append(wheel[0])

    with ThreadPoolExecutor(max_workers=50) as pool:
        futures = [pool.submit(send, w) for w in wheels]
        deadline = time.monotonic() + 60
        while len(acknowledged) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        served.proc.send_signal(signal.SIGKILL)
        served.proc.wait()
        for future in futures:
            future.result()
    served.stop()
    assert 3 <= len(acknowledged) < 50, f"the kill did not land part-way: {len(acknowledged)} acknowledged"
    before = fsck(data)
    print(f"fsck after SIGKILL, before restart (rc {before.returncode}):\n{before.stdout}")

    restarted = serve(data, tmp_path / "second.log")
    try:
        files = listed(restarted.url, "kill-probe")
        assert set(acknowledged) <= set(files) <= {w[0] for w in wheels}
        for filename, sha256 in files.items():
            body = httpx.get(f"{restarted.url}/files/kill-probe/{filename}", timeout=30).content
            assert hashlib.sha256(body).hexdigest() == sha256
        for filename, _ in wheels:
            if filename not in files:
                assert httpx.get(f"{restarted.url}/files/kill-probe/{filename}").status_code == 404
    finally:
        restarted.stop()
    after = fsck(data)
    print(f"fsck after restart (rc {after.returncode}):\n{after.stdout}")
    assert after.returncode == 0 and "clean" in after.stdout, after.stdout + after.stderr
    print(f"{len(acknowledged)} acknowledged before the kill, {len(files)} listed after the restart")


def test_concurrent_identical_uploads_store_one_file(server: tuple[Served, Path]) -> None:
    served, data = server
    filename, body = WheelSpec(name="same-probe").build_bytes()
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: upload(served.url, filename, body), range(20)))
    assert [r.status_code for r in responses] == [200] * 20
    assert sum("stored" in r.text and "identical" not in r.text for r in responses) == 1
    assert sorted(p.name for p in (data / "files" / "same-probe").iterdir()) == [filename, filename + ".metadata"]
    assert list(listed(served.url, "same-probe")) == [filename]
    checked = fsck(data)  # while the server still runs: fsck takes the catalog's write lock, nothing else
    assert checked.returncode == 0 and "1 files checked, 0 problems" in checked.stdout, checked.stdout


def test_publishing_from_another_process_while_serving(server: tuple[Served, Path], tmp_path: Path) -> None:
    served, data = server
    filename, body = WheelSpec(name="published-probe").build_bytes()
    wheel = tmp_path / filename
    wheel.write_bytes(body)
    assert httpx.get(f"{served.url}/simple/published-probe/").status_code == 404
    code = (
        "import sys; from pathlib import Path; from factory.run.publish import IndexPublisher; "
        "print(IndexPublisher(Path(sys.argv[1])).publish(Path(sys.argv[2])))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(data), str(wheel)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and filename in done.stdout, done.stderr
    assert listed(served.url, "published-probe") == {filename: hashlib.sha256(body).hexdigest()}


def test_the_issues_four_inputs_and_twine_uploads_are_refused(server: tuple[Served, Path], tmp_path: Path) -> None:
    served, data = server
    # 1. a wheel whose RECORD correctly lists ../../evil.py, 2. a platform tag that is no platform,
    # 3. an sdist holding a symlink: through twine, as a user would send them
    hostile = {
        "path-dotdot": WheelSpec(members=[Member(name="pkg/__init__.py"), Member(name="../../evil.py")]).build_bytes(),
        "tag-platform": WheelSpec(tag="py3-none-evil_plat").build_bytes(),
        "member-symlink": sdist(members=[TarMember(name="pkg-1.0/evil", type=b"2", linkname="/etc/passwd")]),
    }
    env = {**client_env(tmp_path), "TWINE_USERNAME": "__token__", "TWINE_PASSWORD": TOKEN}
    for rule, (filename, body) in hostile.items():
        path = tmp_path / rule / filename
        path.parent.mkdir()
        path.write_bytes(body)
        done = subprocess.run(
            [str(VENV_BIN / "twine"), "upload", "--verbose", "--disable-progress-bar", "--repository-url",
             f"{served.url}/legacy/", str(path)],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
        assert done.returncode != 0 and f"[{rule}]" in done.stdout + done.stderr, done.stdout + done.stderr
    # 4. a control character at the end of the file name, sent raw (not percent-escaped)
    filename, body = WheelSpec().build_bytes()
    boundary = "b0undary"
    payload = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name=":action"\r\n\r\nfile_upload\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="sha256_digest"\r\n\r\n'
            f"{hashlib.sha256(body).hexdigest()}\r\n"
            f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
            f'filename="pkg-1.0-py3-none-any\x01.whl"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        + body
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = httpx.post(
        f"{served.url}/legacy/",
        content=payload,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        auth=("__token__", TOKEN),
    )
    assert response.status_code == 400 and "[filename-characters]" in response.text and "\\x01" in response.text
    # 5. filetype=sdist for a wheel
    response = upload(served.url, filename, body, filetype="sdist")
    assert response.status_code == 400 and "[form-filetype]" in response.text
    assert httpx.get(f"{served.url}/simple/pkg/").status_code == 404
    assert [p for p in (data / "files").rglob("*") if p.is_file()] == []
