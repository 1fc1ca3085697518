"""Static export: the whole index as files any static server or object store can serve.

Layout: `simple/<p>/index.html` (PEP 503) and `simple/<p>/index.json` (PEP 691 JSON, fetched by path since
a static server cannot negotiate), the same under `cu11/`, `cu12/`, `cu13/`; `files/<p>/<file>` plus
`.metadata` and the sentinel sdist; `index.html` and `project/<p>/index.html` (web pages); `logs/`.
Links are relative, so the tree works under any URL prefix.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from index_server.admit.ingest import METADATA_SUFFIX
from index_server.local import LocalIndex
from index_server.pages.channels import ALL_CHANNELS
from index_server.pages.hosted import files_base_for, hosted_page, matrix_url
from index_server.pages.matrix import build_matrix
from index_server.pages.simple import (
    render_index_html,
    render_index_json,
    render_project_html,
    render_project_json,
)
from index_server.pages.wanted import sentinel_builds, wanted_rows
from index_server.pages.web import render_home, render_project
from index_server.sentinel import build_sentinel, sentinel_filename


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def export_static(index: LocalIndex, out: Path, base_url: str) -> int:
    """Write the export under `out` (which must be empty or absent); returns the number of files written."""
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; choose a new directory for the export")
    records = index.files()
    projects = sorted({r.project for r in records})
    root_map = index.settings.root_cuda_major
    count = 0
    for channel in ALL_CHANNELS:
        simple = out / channel.prefix / "simple"
        _write(simple / "index.html", render_index_html(projects).encode())
        _write(simple / "index.json", render_index_json(projects))
        count += 2
        for project in projects:
            page = hosted_page(
                project,
                [r for r in records if r.project == project],
                channel,
                root_map,
                files_base=files_base_for(channel),
                matrix_url=matrix_url(base_url, project),
            )
            _write(simple / project / "index.html", render_project_html(page).encode())
            _write(simple / project / "index.json", render_project_json(page))
            count += 2
    for record in records:
        _link_or_copy(index.file_path(record), out / "files" / record.project / record.filename)
        count += 1
        if record.metadata_sha256:
            name = record.filename + METADATA_SUFFIX
            _link_or_copy(index.store.path(record.project, name), out / "files" / record.project / name)
            count += 1
    reports = index.catalog.reports()
    for project in projects:
        mine = [r for r in records if r.project == project]
        # A static copy cannot take reports: its sentinel names the builds and reports nothing.
        sentinel = build_sentinel(project, matrix_url(base_url, project), None, sentinel_builds(mine, root_map))
        _write(out / "files" / project / sentinel_filename(project), sentinel)
        matrix = build_matrix(project, mine, reports)
        empty: dict[str, str | None] = {"torch": None, "cuda": None, "python": None}
        wanted = wanted_rows(index.wants.wants(project), index.settings.want_plan)
        _write(
            out / "project" / project / "index.html",
            render_project(matrix, base_url, empty, root_map, wanted).encode(),
        )
        count += 2
    _write(out / "index.html", render_home(records, base_url).encode())
    count += 1
    for report in reports:
        logs = index.reports.root / str(report["run_id"]) / "logs"
        if logs.is_dir():
            for log in logs.iterdir():
                _link_or_copy(log, out / "logs" / str(report["run_id"]) / log.name)
                count += 1
    return count
