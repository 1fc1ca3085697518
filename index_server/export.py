"""Static export: the whole index as files any static server or object store can serve.

Layout: `simple/<p>/index.html` (PEP 503) and `simple/<p>/index.json` (PEP 691 JSON, fetched by path since
a static server cannot negotiate), the same under `cu11/`, `cu12/`, `cu13/`; `files/<p>/<file>` plus
`.metadata` and the sentinel sdist; `index.html` and `project/<p>/index.html` (web pages); `logs/`.
Links are relative, so the tree works under any URL prefix.

Every path written is checked to stay under `out`, and what cannot be exported (a catalog row that does
not read back, a file that is gone, a run id that is not a plain name) is skipped and named in the
result, never a traceback half-way through the tree.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from index_server.admit.ingest import METADATA_SUFFIX
from index_server.errors import shown
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
from index_server.storage.reports import plain_name


@dataclass
class ExportResult:
    files: int = 0
    skipped: list[str] = field(default_factory=list)  # what was left out, and why


class _Tree:
    """Writes under one root, refusing any path that would leave it."""

    def __init__(self, out: Path) -> None:
        self.root = out.resolve()
        self.result = ExportResult()

    def path(self, *parts: str) -> Path:
        target = self.root.joinpath(*parts).resolve()
        if target != self.root and self.root not in target.parents:
            raise ValueError(f"{shown('/'.join(parts), 80)} would be written outside {self.root}")
        return target

    def write(self, data: bytes, *parts: str) -> None:
        target = self.path(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self.result.files += 1

    def link(self, source: Path, *parts: str) -> None:
        target = self.path(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except FileNotFoundError:
            raise  # the source is gone: the caller skips the row
        except OSError:  # another filesystem, or links not allowed
            shutil.copy2(source, target)
        self.result.files += 1


def export_static(index: LocalIndex, out: Path, base_url: str) -> ExportResult:
    """Write the export under `out` (which must be empty or absent)."""
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; choose a new directory for the export")
    out.mkdir(parents=True, exist_ok=True)
    tree = _Tree(out)
    skipped = tree.result.skipped
    skipped += [f"catalog row {shown(row.filename, 80)}: {row.reason}" for row in index.catalog.bad_rows()]
    records = []
    for record in index.files():
        names = [record.filename] + ([record.filename + METADATA_SUFFIX] if record.metadata_sha256 else [])
        try:
            for name in names:
                source = index.store.path(record.project, name)
                if not index.store.inside(source):
                    raise ValueError(f"{source} resolves outside {index.store.root}")
                tree.link(source, "files", record.project, name)
        except (OSError, ValueError) as err:
            skipped.append(f"{record.project}/{record.filename}: {type(err).__name__}: {shown(str(err), 160)}")
            continue
        records.append(record)
    projects = sorted({r.project for r in records})
    root_map = index.settings.root_cuda_major
    for channel in ALL_CHANNELS:
        tree.write(render_index_html(projects).encode(), channel.prefix, "simple", "index.html")
        tree.write(render_index_json(projects), channel.prefix, "simple", "index.json")
        for project in projects:
            page = hosted_page(
                project,
                [r for r in records if r.project == project],
                channel,
                root_map,
                files_base=files_base_for(channel),
                matrix_url=matrix_url(base_url, project),
            )
            tree.write(render_project_html(page).encode(), channel.prefix, "simple", project, "index.html")
            tree.write(render_project_json(page), channel.prefix, "simple", project, "index.json")
    reports = index.catalog.reports()
    empty: dict[str, str | None] = {"torch": None, "cuda": None, "python": None}
    for project in projects:
        mine = [r for r in records if r.project == project]
        # A static copy cannot take reports: its sentinel names the builds and reports nothing.
        sentinel = build_sentinel(project, matrix_url(base_url, project), None, sentinel_builds(mine, root_map))
        tree.write(sentinel, "files", project, sentinel_filename(project))
        matrix = build_matrix(project, mine, reports)
        wanted = wanted_rows(index.wants.wants(project), index.settings.want_plan)
        project_page = render_project(matrix, base_url, empty, root_map, wanted)
        tree.write(project_page.encode(), "project", project, "index.html")
    tree.write(render_home(records, base_url).encode(), "index.html")
    for report in reports:
        run_id = str(report.get("run_id", "")) if isinstance(report, dict) else ""
        if not plain_name(run_id):
            skipped.append(f"run report {shown(run_id, 80)}: not a plain run id; its logs were not exported")
            continue
        for log in index.reports.logs_of(run_id):
            tree.link(log, "logs", run_id, log.name)
    return tree.result
