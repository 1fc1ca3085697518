"""BENCHMARKS.md: one section per comparison with its command, figures, ratio and the tools' raw output."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench_tools import REPO


@dataclass
class Section:
    title: str
    summary: str  # what is compared, how
    header: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: list[tuple[str, str]] = field(default_factory=list)  # (command, output)


def ratio(mine: float, theirs: float) -> str:
    return f"{mine / theirs:.3f}x" if theirs else "n/a"


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
    return done.stdout.strip()


def busy_warning() -> list[str]:
    """A warning for the top of the file when the machine was not idle as the run began."""
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    if load < 0.5 * cores:
        return []
    return [
        f"> **Measured on a busy machine** (load {load:.2f} on {cores} cores when the run began): these figures "
        "are indicative only; re-run on an idle machine.",
        "",
    ]


def machine() -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    mem_kb = int(next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1])
    return [
        f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}), {mem_kb / 1024**2:.1f} GiB RAM",
        f"load average when the run started: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]


def render(
    sections: list[Section], command: str, started: datetime, load_at_start: list[str], warning: list[str]
) -> str:
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain", "--untracked-files=no") else ""
    lines = [
        "# Benchmarks",
        "",
        "Written by `benchmarks/run_all.py` from one run; figures are measured, never asserted.",
        "",
        *warning,
        f"- commit: `{_git('rev-parse', 'HEAD')}`{dirty}",
        f"- run: {started.strftime('%Y-%m-%d %H:%M UTC')} to {datetime.now(UTC).strftime('%H:%M UTC')}",
        f"- command: `{command}`",
        *[f"- machine: {line}" for line in load_at_start],
        f"- load average when it ended: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        "",
    ]
    for section in sections:
        lines += [f"## {section.title}", "", section.summary, ""]
        if section.rows:
            lines.append("| " + " | ".join(section.header) + " |")
            lines.append("|" + "---|" * len(section.header))
            lines += ["| " + " | ".join(row) + " |" for row in section.rows]
            lines.append("")
        lines += [f"- {note}" for note in section.notes]
        if section.notes:
            lines.append("")
        if section.raw:
            lines += ["<details><summary>raw output</summary>", ""]
            for cmd, out in section.raw:
                lines += ["```", f"$ {cmd}", out.rstrip(), "```", ""]
            lines += ["</details>", ""]
    return "\n".join(lines)


def kept_sections(earlier: str, replaced: set[str]) -> list[str]:
    """The sections of an earlier BENCHMARKS.md that a partial run (`--only`) does not replace, in their
    order, each marked with the run its figures come from (a mark already there is kept)."""
    header, *chunks = re.split(r"(?m)^## ", earlier)
    origin = "; ".join(line[2:] for line in header.splitlines() if line.startswith(("- commit:", "- run:")))
    kept = []
    for chunk in chunks:
        title, _, body = chunk.partition("\n")
        if title.strip() in replaced:
            continue
        if not body.lstrip().startswith(NOT_RE_RUN):
            body = f"\n{NOT_RE_RUN} from an earlier run ({origin})._\n{body}"
        kept.append(f"## {title}\n{body.rstrip()}\n")
    return kept


NOT_RE_RUN = "_Not re-run by this command:"
