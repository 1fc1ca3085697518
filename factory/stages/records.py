"""Stage records: each stage of each tuple leaves OUT/<spec id>/<stage>.json beside its log.

A record holds what the stage was given, what it produced (paths, sha256, tags), how long it took and
how it ended, so any stage can be re-run alone and a report is just the records read back.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from factory.errors import FactoryError
from index_server.contract import Cause, Outcome
from index_server.storage.files import write_atomic


class StageFailed(FactoryError):
    """One stage of one tuple did not complete; `cause` classifies it, `message` is the first error line."""

    def __init__(self, stage: str, cause: Cause, message: str, *, skipped: bool = False) -> None:
        super().__init__(f"{stage}: {cause}: {message}")
        self.stage = stage
        self.cause = cause
        self.message = message
        self.skipped = skipped


@dataclass(kw_only=True)
class StageRecord:
    spec_id: str
    stage: str
    outcome: Outcome  # OK, FAILED or SKIPPED
    started: str
    seconds: float
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    cause: Cause | None = None
    message: str | None = None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_json_atomic(path: Path, data: Any) -> None:
    """`data` as JSON at `path`, through the one atomic writer (unique temp name, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    write_atomic(path, text.encode(), tmp_dir=path.parent)


def write_record(tuple_dir: Path, record: StageRecord) -> Path:
    path = tuple_dir / f"{record.stage}.json"
    write_json_atomic(path, asdict(record))
    return path
