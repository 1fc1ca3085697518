"""The web matrix page rendered by a real headless Chromium: a screenshot and the DOM it built."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from index_fixtures import IndexServer

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = work / "chromium-profile"
    argv = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1400,900",
        *args,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_matrix_page_renders_in_chromium(index: IndexServer, work: Path) -> None:
    url = f"{index.url}/project/mamba-ssm/"
    png = work / "matrix.png"
    done = _chromium(work, f"--screenshot={png}", url)
    assert png.is_file(), done.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a blank page compresses far smaller
    keep = Path(__file__).parent.parent.parent / ".pytest_cache"  # kept for a person to look at
    keep.mkdir(exist_ok=True)
    shutil.copy(png, keep / "index-matrix.png")
    dom = _chromium(work, "--dump-dom", url).stdout
    assert '<table class="matrix">' in dom
    for text in (
        "torch 2.14 · CUDA 13.0 · abi1",
        "torch 2.9 · CUDA 12.8 · abi1",
        "Python 3.11",
        "Python 3.12",
        "failed",
        "skipped",
        "published",
        "--index-url",
    ):
        assert text in dom, text
    log_href = "/logs/run-20260101T000000Z/mamba-ssm-2.3.2.post1-cu13.0-torch2.14-cp312-abi1.log"
    assert log_href in dom
    assert "nvcc fatal" in httpx.get(index.url + log_href).text
