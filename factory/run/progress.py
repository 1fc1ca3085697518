"""Live progress for `factory run`: an overall bar and one line per running tuple with its stage.

Where the output is not a terminal (a CI log, `> run.log`), the live bar is not drawn, so each start and
each stage change is printed as a timestamped line instead: a build of many minutes still shows where it is.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from factory.plan.spec import BuildSpec
from factory.run.matrix_run import RunReport, TupleOutcome
from index_server.contract import Outcome

_STYLE = {Outcome.PUBLISHED: "green", Outcome.UNCHANGED: "cyan", Outcome.FAILED: "bold red", Outcome.SKIPPED: "yellow"}


class RichProgress:
    """Implements factory.run.matrix_run.Progress on a rich live display; safe to call from worker threads."""

    def __init__(self, console: Console, total: int) -> None:
        self._console = console
        self._bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._overall = self._bars.add_task("[bold]all tuples", total=total)
        self._tasks: dict[str, TaskID] = {}
        self._stages: dict[str, str] = {}  # the stage each running tuple last reported
        self._lock = threading.Lock()

    def __enter__(self) -> RichProgress:
        self._bars.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        self._bars.stop()

    def _log_line(self, text: str) -> None:
        if not self._console.is_terminal:
            self._console.print(f"{time.strftime('%H:%M:%S')} {text}", highlight=False, soft_wrap=True)

    def start(self, spec: BuildSpec) -> None:
        with self._lock:
            self._tasks[spec.id] = self._bars.add_task(f"  {spec.id}: starting", total=None)
            self._log_line(f"  start {spec.id}")

    def stage(self, spec: BuildSpec, stage: str) -> None:
        with self._lock:
            task = self._tasks.get(spec.id)
            if task is not None:
                self._bars.update(task, description=f"  {spec.id}: {stage}")
            if self._stages.get(spec.id) != stage:  # the run loop and the pipeline both announce provision
                self._stages[spec.id] = stage
                self._log_line(f"  {spec.id}: {stage}")

    def finish(self, spec: BuildSpec, outcome: TupleOutcome) -> None:
        with self._lock:
            task = self._tasks.pop(spec.id, None)
            self._stages.pop(spec.id, None)
            if task is not None:
                self._bars.remove_task(task)
            self._bars.advance(self._overall)
            style = _STYLE.get(outcome.outcome, "")
            detail = f" at {outcome.stage}: {outcome.cause}" if outcome.outcome == Outcome.FAILED else ""
            line = f"[{style}]{outcome.outcome:>9}[/] {spec.id}{detail} ({outcome.seconds:.0f} s)"
            self._bars.console.print(line)


def summary_table(report: RunReport) -> Table:
    counts = ", ".join(f"{n} {o}" for o, n in report.counts().items() if n)
    table = Table(title=f"run {report.run_id}: {counts}")
    for column in ("tuple", "outcome", "stage", "cause", "first error / wheel", "s"):
        table.add_column(column, overflow="fold")
    for t in report.tuples:
        detail = t.wheel or t.message or ""
        table.add_row(
            t.spec.id,
            f"[{_STYLE.get(t.outcome, '')}]{t.outcome}[/]",
            t.stage or "",
            t.cause or "",
            detail,
            f"{t.seconds:.0f}",
        )
    return table
