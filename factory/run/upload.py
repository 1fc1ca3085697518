"""upload: wheels to a remote index over the legacy upload API (what twine sends), with retries.

What counts as published: the index stored the file (200), or it already holds these exact bytes under
the name (this index answers 200 for them; others answer 409, so a 409 is followed by a read of the
project's PEP 691 page and counts as success when the sha256 there is ours). A 409 for other bytes is a
conflict (another publisher took the build number), any other 4xx a refusal: neither is retried. A lost
connection, a timeout, 429 and 5xx (but 507, a full disk) are retried with exponential backoff.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from packaging.utils import parse_wheel_filename

from factory.run.index_builds import JSON_TYPE
from factory.run.publish import PublishConflict, PublishError

RETRIED_STATUS = frozenset({429, 500, 502, 503, 504})
_CHANNEL = re.compile(r"\+cu\.(\d+)\.")  # the CUDA major in a factory wheel's local version label


@dataclass(frozen=True, kw_only=True)
class Uploaded:
    filename: str
    answer: str  # the index's answer, one line
    attempts: int


@dataclass(frozen=True, kw_only=True)
class Retry:
    attempts: int = 6  # tries per file
    first_wait: float = 2.0  # seconds before the second try, doubled for each one after
    max_wait: float = 60.0


def _form(wheel: Path, sha256: str) -> dict[str, str]:
    name, version, _, tags = parse_wheel_filename(wheel.name)
    return {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": str(name),
        "version": str(version),
        "filetype": "bdist_wheel",
        "pyversion": ".".join(sorted({t.interpreter for t in tags})),
        "sha256_digest": sha256,
    }


def _line(response: httpx.Response) -> str:
    """The index's answer on one line, led by its status (this index's answers begin with it already)."""
    text = " ".join(response.text.split())[:300]
    if text.startswith(str(response.status_code)):
        return text
    return f"{response.status_code} {response.reason_phrase}: {text}" if text else str(response.status_code)


class Uploader:
    """Uploads to the index at `base` (its base URL, `factory.run.index_builds.index_base`) as `__token__`."""

    def __init__(
        self,
        base: str,
        token: str,
        client: httpx.Client,
        *,
        retry: Retry | None = None,
        sleep: Callable[[float], None] = time.sleep,
        say: Callable[[str], None] = print,
    ) -> None:
        self.base, self._auth = base.rstrip("/"), ("__token__", token)
        self.client, self.retry, self.sleep, self.say = client, retry or Retry(), sleep, say

    def upload(self, wheel: Path) -> Uploaded:
        data = wheel.read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
        form = _form(wheel, sha256)
        wait = self.retry.first_wait
        for attempt in range(1, self.retry.attempts + 1):
            try:
                response = self.client.post(
                    f"{self.base}/legacy/",
                    data=form,
                    files={"content": (wheel.name, data, "application/octet-stream")},
                    auth=self._auth,
                )
            except httpx.TransportError as err:
                problem = f"{type(err).__name__}: {err}"
            else:
                if response.status_code == 200:
                    return Uploaded(filename=wheel.name, answer=_line(response), attempts=attempt)
                if response.status_code == 409:
                    return self._conflict(wheel.name, sha256, response, attempt)
                if response.status_code not in RETRIED_STATUS:
                    raise PublishError(f"{wheel.name}: the index refused it: {_line(response)}")
                problem = _line(response)
                wait = max(wait, _retry_after(response))
            if attempt == self.retry.attempts:
                raise PublishError(f"{wheel.name}: not uploaded after {attempt} tries; last: {problem}")
            self.say(f"{wheel.name}: try {attempt} failed ({problem}); again in {wait:g} s")
            self.sleep(wait)
            wait = min(wait * 2, self.retry.max_wait)
        raise AssertionError("unreachable")

    def _conflict(self, filename: str, sha256: str, response: httpx.Response, attempt: int) -> Uploaded:
        held = self.held_sha256(filename)
        if held == sha256:
            answer = f"{_line(response)} (the index holds these bytes)"
            return Uploaded(filename=filename, answer=answer, attempts=attempt)
        raise PublishConflict(
            f"{filename}: the index holds other bytes under this name (sha256 {held or 'unknown'}, ours {sha256}): "
            f"{_line(response)}"
        )

    def held_sha256(self, filename: str) -> str | None:
        """The sha256 the index lists for `filename` (root channel, then the wheel's CUDA channel)."""
        name = str(parse_wheel_filename(filename)[0])
        channel = _CHANNEL.search(filename)
        for prefix in ("", *([f"cu{channel[1]}/"] if channel else [])):
            try:
                page = self.client.get(f"{self.base}/{prefix}simple/{name}/", headers={"Accept": JSON_TYPE})
            except httpx.TransportError:
                continue
            if page.status_code != 200 or not page.headers.get("content-type", "").startswith(JSON_TYPE):
                continue
            for entry in page.json().get("files", []):
                if entry.get("filename") == filename:
                    return str((entry.get("hashes") or {}).get("sha256") or "") or None
        return None


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(float(response.headers.get("retry-after", "0")), 300.0)
    except ValueError:
        return 0.0
