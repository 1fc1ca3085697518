"""The one place that runs processes: logs the exact command line, streams output to the stage log.

The runner is passed in (tests pass a fake); stages call `run(...)` and get a `Completed` back.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    seconds: float
    output: str  # what the command printed (also appended to the log)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def summary(self) -> str:
        """The line that says why it failed: the last one mentioning an error, else the last line."""
        lines = [line.strip() for line in self.output.splitlines() if line.strip()]
        errors = [line for line in lines if "error" in line.lower()]
        return (errors or lines or ["(no output)"])[-1]


class Runner(Protocol):
    def __call__(self, argv: Sequence[object], *, env: Mapping[str, str], cwd: Path | None, log: Path) -> Completed: ...


class SubprocessRunner:
    """Runs a command to completion, its stdout and stderr appended to `log` after the command line."""

    def __call__(self, argv: Sequence[object], *, env: Mapping[str, str], cwd: Path | None, log: Path) -> Completed:
        args = tuple(str(a) for a in argv)
        log.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with log.open("a", encoding="utf-8", errors="replace") as out:
            out.write(f"\n$ {shlex.join(args)}\n" + (f"  (in {cwd})\n" if cwd else ""))
            out.flush()
            mark = out.tell()
            try:
                proc = subprocess.run(
                    args,
                    env=dict(env),
                    cwd=cwd,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
                code = proc.returncode
            except FileNotFoundError as err:
                out.write(f"cannot run {args[0]}: {err}\n")
                code = 127
        seconds = time.monotonic() - started
        with log.open("r", encoding="utf-8", errors="replace") as back:
            back.seek(mark)
            output = back.read()
        with log.open("a", encoding="utf-8") as out:
            out.write(f"[exit {code} after {seconds:.1f} s]\n")
        return Completed(args, code, seconds, output)
