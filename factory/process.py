"""The one place that runs processes: logs the exact command line, streams output to the stage log.

The runner is passed in (tests pass a fake); stages call `run(...)` and get a `Completed` back. Every
child starts in its own session, so a time limit (or an interrupt) ends its whole process group:
nvcc's cicc and ptxas, ninja's compilers, pip's build backends, not only the command we started.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from factory.errors import FactoryError


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


class ProcessTimeout(FactoryError):
    """A command ran past its time limit; its whole process group was killed."""

    def __init__(self, argv: Sequence[str], limit: float, log: Path) -> None:
        super().__init__(f"{shlex.join(argv)[:200]} ran past its {limit:g} s limit and was killed (log: {log})")
        self.argv, self.limit, self.log = tuple(argv), limit, log


class Runner(Protocol):
    def __call__(
        self,
        argv: Sequence[object],
        *,
        env: Mapping[str, str],
        cwd: Path | None,
        log: Path,
        timeout: float | None = None,
    ) -> Completed: ...


class Limits(Protocol):
    def of(self, stage: str) -> float: ...


class Current(Protocol):
    @property
    def current(self) -> str: ...


@dataclass(frozen=True)
class TimeLimited:
    """`runner` whose commands get a default time limit, read when each command starts: a fixed one, or the
    limit of the stage running it (`stage_limited`)."""

    runner: Runner
    limit: Callable[[], float | None]

    def __call__(
        self,
        argv: Sequence[object],
        *,
        env: Mapping[str, str],
        cwd: Path | None,
        log: Path,
        timeout: float | None = None,
    ) -> Completed:
        return self.runner(argv, env=env, cwd=cwd, log=log, timeout=timeout if timeout is not None else self.limit())


def fixed_limit(runner: Runner, seconds: float | None) -> TimeLimited:
    return TimeLimited(runner, lambda: seconds)


def stage_limited(runner: Runner, limits: Limits, current: Current) -> TimeLimited:
    return TimeLimited(runner, lambda: limits.of(current.current))


# Process groups of the children running now, whichever thread started them. Module state, on purpose:
# when the factory itself is told to stop (SIGTERM, SIGHUP), the groups its worker threads started live in
# sessions of their own and would outlive it; `stop_children` ends them from the signal handler.
_LIVE: set[int] = set()
_LIVE_LOCK = threading.Lock()


def descendants(root: int) -> list[int]:
    """Every live process below `root`, from /proc's parent links (ninja starts each compile in a process
    group of its own, so killing the build's group alone leaves nvcc running). Empty where there is no /proc."""
    children: dict[int, list[int]] = {}
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _signal_tree(leader: int, sig: signal.Signals) -> None:
    """`sig` to the leader's process group and to every process below it, whatever group it is in; the
    tree is frozen first (SIGSTOP) so that nothing in it starts a new child in between."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, signal.SIGSTOP)
    below = descendants(leader)
    for pid in below:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGSTOP)
    for pid in [*descendants(leader), *below]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, sig)
    if sig != signal.SIGKILL:  # let them act on it
        for pid in below:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGCONT)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(leader, signal.SIGCONT)


def stop_children() -> None:
    """SIGKILL every process tree a SubprocessRunner started and that is still running."""
    with _LIVE_LOCK:
        groups = list(_LIVE)
    for pgid in groups:
        _signal_tree(pgid, signal.SIGKILL)


def stop_children_on_signals() -> None:
    """Make SIGTERM and SIGHUP end the children's process groups, then interrupt the main thread."""

    def handler(signum: int, frame: object) -> None:
        stop_children()
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def kill_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM to the child's process group, then SIGKILL to whatever is left after `grace` seconds."""
    _signal_group(proc, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    _signal_group(proc, signal.SIGKILL)  # members that outlived the leader or ignored SIGTERM
    proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    _signal_tree(proc.pid, sig)


@dataclass(frozen=True)
class SubprocessRunner:
    """Runs a command to completion, its stdout and stderr appended to `log` after the command line.

    `grace`: seconds between SIGTERM and SIGKILL when a time limit is hit.
    """

    grace: float = 10.0

    def __call__(
        self,
        argv: Sequence[object],
        *,
        env: Mapping[str, str],
        cwd: Path | None,
        log: Path,
        timeout: float | None = None,
    ) -> Completed:
        args = tuple(str(a) for a in argv)
        log.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        timed_out = False
        with log.open("a", encoding="utf-8", errors="replace") as out:
            out.write(f"\n$ {shlex.join(args)}\n" + (f"  (in {cwd})\n" if cwd else ""))
            out.flush()
            mark = out.tell()
            try:
                proc = subprocess.Popen(
                    args,
                    env=dict(env),
                    cwd=cwd,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            except FileNotFoundError as err:
                out.write(f"cannot run {args[0]}: {err}\n")
                code = 127
            else:
                with _LIVE_LOCK:
                    _LIVE.add(proc.pid)
                try:
                    code = proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    timed_out = True
                    kill_group(proc, self.grace)
                    code = proc.returncode
                finally:
                    if proc.returncode is None:  # interrupted (Ctrl-C): the group must not outlive us
                        kill_group(proc, 0)
                    with _LIVE_LOCK:
                        _LIVE.discard(proc.pid)
        seconds = time.monotonic() - started
        with log.open("r", encoding="utf-8", errors="replace") as back:
            back.seek(mark)
            output = back.read()
        with log.open("a", encoding="utf-8") as out:
            if timed_out:
                out.write(f"[killed after {seconds:.1f} s: over the {timeout:g} s limit]\n")
                raise ProcessTimeout(args, timeout or 0.0, log)
            out.write(f"[exit {code} after {seconds:.1f} s]\n")
        return Completed(args, code, seconds, output)
