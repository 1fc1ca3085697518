"""One cell's job on the runner: every planned Python in a cibuildwheel run of its own, each published as
soon as it is built, the disk measured around each, inside a time limit.

cibuildwheel builds all Pythons of one run in one container and copies the wheels out after the last, so
one Python's failure would discard the others' wheels, and the container would hold every Python's torch
at once (over 5 GB each). Here each Python gets a fresh container, and its wheel is uploaded before the
next Python starts; a failure is recorded and the job goes on, then fails at the end naming each Python
that was not published. The compile cache lives on the runner (a volume of the container), so the device
code compiled for the first Python still serves the others. A Python that would start past the deadline
is not started, and the one running at the deadline is stopped, which leaves the job time to report.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from factory.ci.workflow import Cell, cibw_identifier
from factory.errors import FactoryError
from factory.process import ProcessTimeout, Runner
from factory.run.disk import disk_line
from factory.run.upload import Uploaded


class Publisher(Protocol):
    def upload(self, wheel: Path) -> Uploaded: ...


@dataclass(frozen=True, kw_only=True)
class PythonRun:
    identifier: str  # cibuildwheel's, `cp311-manylinux_x86_64`
    tuple_id: str
    outcome: str  # published | built (no index to publish to) | failed | not-started
    wheels: tuple[str, ...] = ()
    seconds: float = 0.0
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome in ("published", "built")


@dataclass(frozen=True, kw_only=True)
class CellJob:
    cell: Cell
    package_dir: Path
    output_dir: Path  # each Python's wheel lands in OUTPUT_DIR/<identifier>/
    logs: Path  # each Python's cibuildwheel log: LOGS/<identifier>.log
    deadline: float  # wall-clock time (time.time()) the builds must end by
    env: Mapping[str, str]  # cibuildwheel's environment: no upload token in it
    unpublished: Path | None = None  # wheels built but not published are copied here (for an artifact)
    df: tuple[Path, ...] = (Path("/"),)
    cibuildwheel: str = "cibuildwheel"


def run_cell_job(
    job: CellJob,
    runner: Runner,
    publisher: Publisher | None,
    *,
    clock: Callable[[], float] = time.time,
    say: Callable[[str], None] = print,
) -> list[PythonRun]:
    runs = []
    for spec in job.cell.specs:
        ident = cibw_identifier(spec)
        left = job.deadline - clock()
        if left <= 0:
            late = PythonRun(identifier=ident, tuple_id=spec.id, outcome="not-started", detail="past the time limit")
            runs.append(late)
            continue
        out = job.output_dir / ident
        say(disk_line(f"runner-before-{ident}", df=job.df, du=(job.output_dir,)))
        run = _build(job, runner, ident, spec.id, out, left, say)
        say(disk_line(f"runner-after-{ident}", df=job.df, du=(job.output_dir,)))
        if run.ok and publisher is not None:
            run = _publish(run, out, publisher, say)
        if run.outcome != "published" and run.wheels and job.unpublished is not None:
            job.unpublished.mkdir(parents=True, exist_ok=True)
            for name in run.wheels:
                shutil.copy2(out / name, job.unpublished / name)
        say(f"{ident}: {run.outcome}" + (f" ({run.detail})" if run.detail else ""))
        runs.append(run)
    return runs


def _build(
    job: CellJob, runner: Runner, ident: str, tuple_id: str, out: Path, left: float, say: Callable[[str], None]
) -> PythonRun:
    log = job.logs / f"{ident}.log"
    argv = [job.cibuildwheel, job.package_dir, "--output-dir", out]
    say(f"::group::{ident}: cibuildwheel (log {log})")
    started = time.monotonic()
    try:
        done = runner(argv, env={**job.env, "CIBW_BUILD": ident}, cwd=None, log=log, timeout=left)
    except ProcessTimeout:
        seconds = time.monotonic() - started
        say(log.read_text(errors="replace") if log.exists() else "")
        say("::endgroup::")
        why = f"stopped at the build time limit after {seconds:.0f} s"
        return PythonRun(identifier=ident, tuple_id=tuple_id, outcome="failed", seconds=seconds, detail=why)
    say(done.output)
    say("::endgroup::")
    wheels = tuple(sorted(p.name for p in out.glob("*.whl")))
    if not done.ok or not wheels:
        why = f"cibuildwheel exit {done.returncode}: {done.summary()}" if not done.ok else "cibuildwheel left no wheel"
        return PythonRun(identifier=ident, tuple_id=tuple_id, outcome="failed", seconds=done.seconds, detail=why)
    return PythonRun(identifier=ident, tuple_id=tuple_id, outcome="built", wheels=wheels, seconds=done.seconds)


def _publish(run: PythonRun, out: Path, publisher: Publisher, say: Callable[[str], None]) -> PythonRun:
    for name in run.wheels:
        try:
            uploaded = publisher.upload(out / name)
        except FactoryError as err:
            return replace(run, outcome="failed", detail=f"built, not published: {err}")
        tries = f" (after {uploaded.attempts} tries)" if uploaded.attempts > 1 else ""
        say(f"{name}: {uploaded.answer}{tries}")
    return replace(run, outcome="published")


def report(cell_id: str, runs: list[PythonRun]) -> tuple[str, list[str]]:
    """A markdown summary of the cell's job, and one `::error::` line per Python that did not succeed."""
    lines = [f"### {cell_id}", "", "| Python | outcome | time | wheels | detail |", "|---|---|---|---|---|"]
    for r in runs:
        wheels = ", ".join(r.wheels) or "—"
        lines.append(f"| {r.identifier} | {r.outcome} | {r.seconds:.0f} s | {wheels} | {r.detail} |")
    errors = [f"::error::{cell_id} {r.identifier} ({r.tuple_id}): {r.outcome}: {r.detail}" for r in runs if not r.ok]
    return "\n".join([*lines, ""]), errors
