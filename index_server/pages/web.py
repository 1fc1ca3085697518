"""Pure rendering of the web pages (home, project matrix) with Jinja2 templates; no JavaScript needed."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from jinja2 import Environment, PackageLoader, select_autoescape

from index_server.pages.channels import ALL_CHANNELS
from index_server.pages.matrix import NEWEST, Matrix, RowKey
from index_server.pages.wanted import WantRow
from index_server.pages.wheel_notes import wheel_notes
from index_server.storage.catalog import FileRecord

_ENV = Environment(loader=PackageLoader("index_server", "templates"), autoescape=select_autoescape(default=True))


def _style_hash() -> str:
    """CSP source of base.html's one inline style block (static text, so its digest is fixed)."""
    source = _ENV.loader.get_source(_ENV, "base.html")[0]  # type: ignore[union-attr]
    found = re.search(r"<style>(.*?)</style>", source, re.DOTALL)
    assert found is not None, "base.html has no <style> block"
    return "'sha256-" + base64.b64encode(hashlib.sha256(found[1].encode()).digest()).decode() + "'"


# The pages run no script and load nothing but themselves; no other site may frame them.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src {_style_hash()}; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class ProjectSummary:
    name: str
    files: int
    latest: str


@dataclass(frozen=True)
class InstallLine:
    name: str
    note: str
    command: str


def summarize(records: Sequence[FileRecord]) -> list[ProjectSummary]:
    by_project: dict[str, list[FileRecord]] = {}
    for record in records:
        by_project.setdefault(record.project, []).append(record)
    return [
        ProjectSummary(name, len(files), human_time(max(f.upload_time for f in files)))
        for name, files in sorted(by_project.items())
    ]


def install_lines(project: str, base: str) -> list[InstallLine]:
    lines = []
    for channel in ALL_CHANNELS:
        note = (
            "torch installed from PyPI (its default CUDA per torch release)"
            if channel.cuda_major is None
            else f"torch built for CUDA {channel.cuda_major}.x (PyTorch's cu{channel.cuda_major}x indexes)"
        )
        url = f"{base}/{channel.prefix}simple"
        lines.append(InstallLine(channel.name, note, f"pip install {project} --index-url {url}"))
    return lines


def render_home(records: Sequence[FileRecord], base: str) -> str:
    return _ENV.get_template("home.html").render(projects=summarize(records), base=base.rstrip("/"))


def row_channels(key: RowKey, root_cuda_major: Mapping[str, int]) -> str:
    """Which index URLs list the builds of a row, e.g. '/simple/ and /cu13/simple/'."""
    urls = [f"/cu{key.cuda.major}/simple/"]
    if root_cuda_major.get(str(key.torch)) == key.cuda.major:
        urls.insert(0, "/simple/")
    return " and ".join(urls)


def render_project(
    matrix: Matrix,
    base: str,
    filters: dict[str, str | None],
    root_cuda_major: Mapping[str, int],
    wanted: Sequence[WantRow] = (),
) -> str:
    base = base.rstrip("/")
    return _ENV.get_template("project.html").render(
        m=matrix,
        wanted=wanted,
        base=base,
        f=filters,
        install=install_lines(matrix.project, base),
        size=human_size,
        time=human_time,
        channels=lambda key: row_channels(key, root_cuda_major),
        notes=wheel_notes,
        newest=NEWEST,
    )
