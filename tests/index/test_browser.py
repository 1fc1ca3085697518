"""The web matrix page rendered by a real headless Chromium: a screenshot and the DOM it built."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from collections import Counter
from pathlib import Path

import httpx
import pytest
from index_fixtures import IndexServer

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# The fills base.html gives the matrix's header and status cells.
CELL_COLOURS = {
    "header": (0xEE, 0xF2, 0xF7),
    "published": (0xDF, 0xF5, 0xE1),
    "failed": (0xFB, 0xE0, 0xE0),
    "skipped": (0xFF, 0xF4, 0xD6),
}


def png_pixels(data: bytes) -> Counter[tuple[int, int, int]]:
    """How many pixels of each RGB colour an 8-bit, non-interlaced RGB(A) PNG holds.

    Written here because the screenshot is the only image the tests read; Pillow would be a dependency
    for these twenty lines."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        header, idat = (body, idat) if kind == b"IHDR" else (header, idat + body if kind == b"IDAT" else idat)
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, (depth, colour_type, interlace)
    step = 3 if colour_type == 2 else 4
    stride, raw = width * step, zlib.decompress(idat)
    previous, counts = bytearray(stride), Counter[tuple[int, int, int]]()
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):  # undo the row filter (PNG spec, section 9)
            left = line[i - step] if i >= step else 0
            up, corner = previous[i], previous[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        counts.update(tuple(line[i : i + 3]) for i in range(0, stride, step))  # type: ignore[misc]
        previous = line
    return counts


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
    colours = png_pixels(png.read_bytes())
    # the table was painted: every kind of cell shows its fill over a real area, not a stray pixel
    painted = {name: colours[rgb] for name, rgb in CELL_COLOURS.items()}
    assert all(n >= 500 for n in painted.values()), painted
    assert len(colours) > 50  # text is drawn too (anti-aliased glyphs bring many shades)
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
