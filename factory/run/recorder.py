"""StageRecorder: runs one stage of one tuple and leaves its record (OUT/<id>/<stage>.json) either way.

Whatever a stage raises becomes a StageFailed of that stage: a command past its time limit is cause
`timeout`, any other unexpected exception (a bug, an upstream METADATA line packaging cannot parse) is
`internal-error` with the exception's type and message, so one tuple's crash never stops the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from factory.context import DEFAULT_TIMEOUTS
from factory.process import ProcessTimeout
from factory.stages.records import StageFailed, StageRecord, now_iso, write_record
from index_server.contract import Cause, Outcome

T = TypeVar("T")


class StageRecorder:
    def __init__(self, spec_id: str, tuple_dir: Path, log: Path, on_stage: Callable[[str], None]) -> None:
        self.spec_id, self.tuple_dir, self.log, self.on_stage = spec_id, tuple_dir, log, on_stage
        self.current = "provision"  # the stage running now, or the last one begun

    def __call__(
        self, name: str, inputs: dict[str, Any], work: Callable[[], T], describe: Callable[[T], dict[str, Any]]
    ) -> T:
        """Run `work`; record `describe(value)` as the outputs, or the StageFailed it raised (re-raised)."""
        self.on_stage(name)
        self.current = name
        with self.log.open("a") as out:
            out.write(f"\n=== {name} ===\n")
        started, t0 = now_iso(), time.monotonic()
        try:
            value = work()
            outputs = describe(value)
        except Exception as caught:
            err = caught if isinstance(caught, StageFailed) else unexpected(name, caught)
            self._write(name, Outcome.SKIPPED if err.skipped else Outcome.FAILED, started, t0, inputs, {}, err)
            if err is caught:
                raise
            raise err from caught
        self._write(name, Outcome.OK, started, t0, inputs, outputs, None)
        return value

    def between_stages(self, err: Exception) -> StageFailed:
        """An exception raised outside any stage, recorded as stage `internal` (internal.json)."""
        failed = unexpected("internal", err)
        self._write("internal", Outcome.FAILED, now_iso(), time.monotonic(), {}, {}, failed)
        return failed

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


def unexpected(stage: str, err: Exception) -> StageFailed:
    """A command past its time limit (`timeout`), or an exception no stage expected (`internal-error`:
    its type and message are the first line), as the stage's failure."""
    if isinstance(err, ProcessTimeout):
        flag = f"--timeout-{stage}" if stage in DEFAULT_TIMEOUTS else "--timeout-provision"
        return StageFailed(stage, Cause.TIMEOUT, f"{err}; if it needs longer, raise the limit with {flag} SECONDS")
    first = (str(err).strip().splitlines() or [""])[0]
    return StageFailed(stage, Cause.INTERNAL_ERROR, f"{type(err).__name__}: {first}".rstrip(": "))
