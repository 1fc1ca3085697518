"""Sections of BENCHMARKS.md from the stand-alone benchmark scripts, whose printed lines are the figures:
the index under a silent upstream (upstream_stall.py), its memory refusing a huge zip directory
(zip_directory_rss.py), and what sm_80 + sm_90 + PTX costs against sm_90 alone (arch_cost.py)."""

from __future__ import annotations

import re
import sys

from bench_report import Section
from bench_tools import REPO, run


def _script(name: str, *args: str, env: dict[str, str] | None = None, timeout: float = 900) -> tuple[list[str], str]:
    argv = [sys.executable, str(REPO / "benchmarks" / name), *args]
    return argv, run(argv, cwd=REPO, env=env, timeout=timeout)


def upstream_stall() -> Section:
    argv, out = _script("upstream_stall.py")
    section = Section(
        title="Hosted pages while 60 requests wait on a silent upstream",
        summary="`benchmarks/upstream_stall.py`: `factory serve` with an upstream that accepts connections and "
        "never answers; 20 sequential requests per URL, idle and while 60 pass-through requests are pending "
        "(issue 20: `GET /` took 15 s when pass-through ran in the worker threads).",
        header=("when", "URL", "median ms", "worst ms"),
        raw=[(" ".join(argv), out)],
    )
    for when, url, median, worst in re.findall(
        r"^(idle|pending)\s+GET (\S+).*?: median ([\d.]+) ms, worst ([\d.]+) ms", out, re.MULTILINE
    ):
        section.rows.append((when, url, median, worst))
    return section


def zip_rss() -> Section:
    argv, out = _script("zip_directory_rss.py")
    section = Section(
        title="Server memory refusing a wheel whose central directory lists 1.5 M entries",
        summary="`benchmarks/zip_directory_rss.py`: the upload sent as twine sends it; the server's RSS idle and "
        "its peak (VmHWM) while refusing it (issue 20: 75 -> 790 MB before the member limit refused it).",
        header=("idle MB", "peak MB", "peak above idle MB", "answer"),
        raw=[(" ".join(argv), out)],
    )
    rss = re.search(r"RSS idle (\d+) MB; peak while refusing (\d+) MB", out)
    answer = re.search(r"^answer: (\d+)", out, re.MULTILINE)
    if rss:
        section.rows.append((rss[1], rss[2], str(int(rss[2]) - int(rss[1])), answer[1] if answer else "?"))
    return section


def arch_cost(env: dict[str, str]) -> Section:
    """Four real builds of causal-conv1d (two arch sets, two Pythons): the better part of an hour here."""
    argv, out = _script("arch_cost.py", env=env, timeout=7200)
    section = Section(
        title="SASS for sm_80 + sm_90 plus PTX against sm_90 alone",
        summary="`benchmarks/arch_cost.py`: causal-conv1d's quick tuple (torch 2.14.1 + CUDA 13.0) for cp311 (the "
        "first tuple of the cell) then cp312 (a second Python, device code from the compile cache), per arch set "
        "from an empty compile cache: the build stage's wall time, the whole tuple's wall and CPU time (build, "
        "repair, verify), the wheel's size.",
        header=("arch set", "Python", "build stage s", "tuple wall s", "tuple CPU s", "wheel MB"),
        raw=[(" ".join(argv), out)],
    )
    line = r"^\S+ (\S+) (cp\d+): build stage (\d+) s wall, whole tuple (\d+) s wall / (\d+) s CPU, wheel ([\d.]+) MB"
    for arch_set, python, stage, wall, cpu, size in re.findall(line, out, re.MULTILINE):
        section.rows.append((arch_set, python, stage, wall, cpu, size))
    section.notes.extend(re.findall(r"^(cp\d+: .*x wheel size|\S+: second Python .*)$", out, re.MULTILINE))
    return section
