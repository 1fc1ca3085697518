"""StageRecorder: runs one stage of one tuple and leaves its record (OUT/<id>/<stage>.json) either way."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from factory.records import StageFailed, StageRecord, now_iso, write_record
from index_server.contract import Outcome

T = TypeVar("T")


class StageRecorder:
    def __init__(self, spec_id: str, tuple_dir: Path, log: Path, on_stage: Callable[[str], None]) -> None:
        self.spec_id, self.tuple_dir, self.log, self.on_stage = spec_id, tuple_dir, log, on_stage

    def __call__(
        self, name: str, inputs: dict[str, Any], work: Callable[[], T], describe: Callable[[T], dict[str, Any]]
    ) -> T:
        """Run `work`; record `describe(value)` as the outputs, or the StageFailed it raised (re-raised)."""
        self.on_stage(name)
        with self.log.open("a") as out:
            out.write(f"\n=== {name} ===\n")
        started, t0 = now_iso(), time.monotonic()
        try:
            value = work()
            outputs = describe(value)
        except StageFailed as err:
            self._write(name, Outcome.SKIPPED if err.skipped else Outcome.FAILED, started, t0, inputs, {}, err)
            raise
        self._write(name, Outcome.OK, started, t0, inputs, outputs, None)
        return value

    def _write(
        self,
        name: str,
        outcome: Outcome,
        started: str,
        t0: float,
        inputs: dict[str, Any],
        outputs: dict[str, Any],
        err: StageFailed | None,
    ) -> None:
        record = StageRecord(
            spec_id=self.spec_id,
            stage=name,
            outcome=outcome,
            started=started,
            seconds=time.monotonic() - t0,
            inputs=inputs,
            outputs=outputs,
            cause=err.cause if err else None,
            message=err.message if err else None,
        )
        write_record(self.tuple_dir, record)
