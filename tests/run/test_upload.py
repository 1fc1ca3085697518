"""Uploads with retries and backoff, against fake transports (no network): what is retried, what is not,
and when a 409 is a success."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import httpx
import pytest

from factory.run.publish import PublishConflict, PublishError
from factory.run.upload import Retry, Uploader

NAME = "causal_conv1d-1.7.0+cu.13.0.torch.2.14.abi.1-2-cp311-cp311-manylinux_2_28_x86_64.whl"
JSON = "application/vnd.pypi.simple.v1+json"


def wheel(tmp_path: Path, body: bytes = b"x") -> Path:
    path = tmp_path / NAME
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("causal_conv1d/__init__.py", body)
    return path


class Fake:
    """Answers the upload POSTs in order from `answers` (a status, or an exception to raise)."""

    def __init__(self, answers: list[int | Exception], held: dict[str, str] | None = None) -> None:
        self.answers, self.held, self.posts, self.gets = list(answers), held or {}, 0, []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            self.gets.append(request.url.path)
            if request.url.path == "/cu13/simple/causal-conv1d/":
                files = [{"filename": f, "hashes": {"sha256": h}} for f, h in self.held.items()]
                return httpx.Response(200, headers={"content-type": JSON}, json={"files": files})
            return httpx.Response(404)
        self.posts += 1
        assert request.url.path == "/legacy/" and request.headers["authorization"].startswith("Basic ")
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer, text=f"{answer} answer", headers={"retry-after": "7"} if answer == 429 else {})


def uploader(fake: Fake, waits: list[float]) -> Uploader:
    client = httpx.Client(transport=httpx.MockTransport(fake))
    return Uploader("http://index/", "tok", client, retry=Retry(attempts=4, first_wait=2), sleep=waits.append,
                    say=lambda _: None)  # fmt: skip


def test_transient_failures_are_retried_with_backoff(tmp_path: Path) -> None:
    fake, waits = Fake([httpx.ConnectError("refused"), 503, 429, 200]), []
    done = uploader(fake, waits).upload(wheel(tmp_path))
    assert (done.attempts, fake.posts) == (4, 4)
    assert waits == [2, 4, 8]  # doubled each time; the 429's Retry-After (7 s) is below the 8 s due then


def test_a_refusal_is_not_retried(tmp_path: Path) -> None:
    fake, waits = Fake([403]), []
    with pytest.raises(PublishError, match="the index refused it: 403"):
        uploader(fake, waits).upload(wheel(tmp_path))
    assert fake.posts == 1 and waits == []


def test_giving_up_names_the_last_answer(tmp_path: Path) -> None:
    fake, waits = Fake([502, 502, 502, 502]), []
    with pytest.raises(PublishError, match="not uploaded after 4 tries; last: 502"):
        uploader(fake, waits).upload(wheel(tmp_path))
    assert waits == [2, 4, 8]


def test_409_with_identical_bytes_is_success(tmp_path: Path) -> None:
    path = wheel(tmp_path)
    fake = Fake([409], held={NAME: hashlib.sha256(path.read_bytes()).hexdigest()})
    done = uploader(fake, []).upload(path)
    assert "the index holds these bytes" in done.answer
    assert fake.gets == ["/simple/causal-conv1d/", "/cu13/simple/causal-conv1d/"]  # the root, then its channel


def test_409_with_other_bytes_is_a_conflict(tmp_path: Path) -> None:
    fake = Fake([409], held={NAME: "0" * 64})
    with pytest.raises(PublishConflict, match="other bytes under this name"):
        uploader(fake, []).upload(wheel(tmp_path))
    assert fake.posts == 1
