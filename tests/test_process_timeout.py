"""The real runner's time limit: past it, the command's whole process group is gone (real processes, ~1 s)."""

import argparse
import os
import time
from pathlib import Path

import pytest

from factory.commands.common import add_build_options, context_from_args
from factory.context import StageTimeouts
from factory.process import ProcessTimeout, SubprocessRunner

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting for its (new) parent to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_time_limit_kills_the_child_and_its_children(tmp_path: Path) -> None:
    log = tmp_path / "stage.log"
    pids = tmp_path / "pids"
    # the shell starts a grandchild in the background, then waits on a second sleep of its own
    script = f"sleep 60 & echo $$ $! > {pids}; sleep 60"
    began = time.monotonic()
    with pytest.raises(ProcessTimeout) as raised:
        SubprocessRunner(grace=0.5)(["sh", "-c", script], env=ENV, cwd=None, log=log, timeout=1)
    took = time.monotonic() - began
    shell, grandchild = (int(p) for p in pids.read_text().split())
    deadline = time.monotonic() + 5
    while (running(shell) or running(grandchild)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(shell), "the command itself outlived its time limit"
    assert not running(grandchild), "the command's background child outlived its time limit"
    assert took < 30  # killed, not waited for (the sleeps last 60 s)
    assert raised.value.limit == 1
    assert "ran past its 1 s limit" in str(raised.value)
    assert "over the 1 s limit" in log.read_text()


def test_a_grandchild_in_a_process_group_of_its_own_is_killed_too(tmp_path: Path) -> None:
    """ninja starts each compile in a new process group: nvcc must not outlive the build's time limit."""
    pids = tmp_path / "pids"
    script = f"setsid sleep 60 & echo $! > {pids}; wait"
    with pytest.raises(ProcessTimeout):
        SubprocessRunner(grace=0.3)(["sh", "-c", script], env=ENV, cwd=None, log=tmp_path / "log", timeout=0.5)
    grandchild = int(pids.read_text())
    deadline = time.monotonic() + 5
    while running(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(grandchild), "a compile in its own process group outlived the build"


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"trap '' TERM; sleep 60 & echo $! > {pids}; wait"
    with pytest.raises(ProcessTimeout):
        SubprocessRunner(grace=0.3)(["sh", "-c", script], env=ENV, cwd=None, log=tmp_path / "log", timeout=0.5)
    grandchild = int(pids.read_text())
    deadline = time.monotonic() + 5
    while running(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(grandchild)


def test_within_the_limit_the_command_completes(tmp_path: Path) -> None:
    done = SubprocessRunner()(["sh", "-c", "echo hello; exit 3"], env=ENV, cwd=None, log=tmp_path / "log", timeout=30)
    assert done.returncode == 3 and done.output.strip() == "hello"


def test_a_missing_program_is_exit_127(tmp_path: Path) -> None:
    done = SubprocessRunner()(["/nonexistent/tool"], env=ENV, cwd=None, log=tmp_path / "log", timeout=5)
    assert done.returncode == 127 and "cannot run /nonexistent/tool" in done.output


def build_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_build_options(parser)
    parser.add_argument("--recipes", default=None)
    return parser.parse_args(["--extra-index-url", "https://mirror.test/simple", *argv])


def test_stage_time_limits_come_from_the_command_line() -> None:
    ctx = context_from_args(build_args("--timeout-build", "7200", "--timeout-verify", "90.5"))
    assert ctx.timeouts == StageTimeouts(build=7200, verify=90.5)
    assert ctx.timeouts.of("build") == 7200 and ctx.timeouts.of("provision") == 30 * 60
    default = context_from_args(build_args()).timeouts
    assert (default.provision, default.build, default.repair, default.verify) == (1800, 10800, 1800, 1800)


@pytest.mark.parametrize("bad", ["0", "-5", "soon", "inf", "nan"])
def test_a_time_limit_must_be_positive_seconds(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_args("--timeout-repair", bad)
    assert f"{bad!r} is not a positive number of seconds" in capsys.readouterr().err


STOPPED_BY_SIGTERM = """
import sys, threading, time
from pathlib import Path
from factory.process import SubprocessRunner, stop_children_on_signals

stop_children_on_signals()
tmp = Path(sys.argv[1])
script = f"sleep 60 & echo $$ $! > {tmp / 'pids'}; sleep 60"
worker = threading.Thread(  # as `factory run` builds: the command runs in a worker thread
    target=lambda: SubprocessRunner()(["sh", "-c", script], env={"PATH": "/usr/bin:/bin"}, cwd=None,
                                      log=tmp / "stage.log"),
    daemon=True,
)
worker.start()
try:
    time.sleep(60)
except KeyboardInterrupt:
    sys.exit(130)
"""


def test_sigterm_to_the_factory_ends_its_childrens_groups(tmp_path: Path) -> None:
    """`kill <factory run>`: the build's process group (its own session) must not outlive the factory."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", STOPPED_BY_SIGTERM, str(tmp_path)])
    pids = tmp_path / "pids"
    deadline = time.monotonic() + 20
    while not (pids.exists() and len(pids.read_text().split()) == 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    shell, grandchild = (int(p) for p in pids.read_text().split())
    proc.terminate()
    assert proc.wait(timeout=20) == 130
    deadline = time.monotonic() + 5
    while (running(shell) or running(grandchild)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(shell) and not running(grandchild), "the build's processes outlived the factory"
