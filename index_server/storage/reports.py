"""Run reports and build logs: stored under data/reports/<run_id>/, indexed in the catalog."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from index_server.contract import RUN_OUTCOMES
from index_server.errors import InvalidDistribution, UnknownFile, shown
from index_server.storage.catalog import Catalog
from index_server.storage.files import copy_tree_atomic

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def plain_name(text: str) -> bool:
    """A run or tuple id usable as one path segment: letters, digits and ._+- (not starting with them)."""
    return _SAFE.fullmatch(text) is not None


class ReportError(InvalidDistribution):
    """A run report is malformed."""


def _check_report(report: dict[str, Any]) -> None:
    for key in ("run_id", "started", "finished", "tuples"):
        if key not in report:
            raise ReportError(f"run report lacks {key!r}; see LocalIndex.publish_report for the schema")
    if not plain_name(str(report["run_id"])):
        raise ReportError(f"run_id {report['run_id']!r} must be letters, digits and ._+-")
    for row in report["tuples"]:
        if not plain_name(str(row.get("id", ""))):
            raise ReportError(f"tuple id {row.get('id')!r} must be letters, digits and ._+-")
        if row.get("outcome") not in RUN_OUTCOMES:
            allowed = ", ".join(RUN_OUTCOMES)
            raise ReportError(f"{row['id']}: outcome {row.get('outcome')!r} is not one of {allowed}")


class ReportStore:
    def __init__(self, root: Path, catalog: Catalog, tmp_dir: Path) -> None:
        self.root = root
        self.catalog = catalog
        self.tmp_dir = tmp_dir

    def publish(self, report: dict[str, Any], logs: dict[str, Path]) -> None:
        """Write report.json and logs/<tuple id>.log in one directory rename, then index the report."""
        _check_report(report)
        run_id = str(report["run_id"])
        build = self.tmp_dir / f"report-{run_id}"
        (build / "logs").mkdir(parents=True, exist_ok=True)
        for tuple_id, log in logs.items():
            if not plain_name(tuple_id):
                raise ReportError(f"log key {tuple_id!r} must be letters, digits and ._+-")
            (build / "logs" / f"{tuple_id}.log").write_bytes(log.read_bytes())
        report = {**report, "tuples": [{**row, "log": row["id"] in logs} for row in report["tuples"]]}
        (build / "report.json").write_text(json.dumps(report, indent=1))
        target = self.root / run_id
        if target.exists():
            shutil.rmtree(target)  # a re-published run replaces its earlier copy
        copy_tree_atomic(build, target, tmp_dir=self.tmp_dir)
        shutil.rmtree(build, ignore_errors=True)
        self.catalog.add_report(run_id, str(report["finished"]), report)

    def logs_of(self, run_id: str) -> list[Path]:
        """The build logs of one run; [] for a run id that is not a plain name (a tampered report)."""
        folder = self.root / run_id / "logs"
        if not plain_name(run_id) or not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if plain_name(p.name) and p.is_file() and not p.is_symlink())

    def log_path(self, run_id: str, tuple_id: str) -> Path:
        if not (plain_name(run_id) and plain_name(tuple_id)):
            raise UnknownFile(f"no log {shown(run_id + '/' + tuple_id)}")
        path = self.root / run_id / "logs" / f"{tuple_id}.log"
        if not path.is_file():
            raise UnknownFile(f"no build log for {tuple_id} in run {run_id}")
        return path
