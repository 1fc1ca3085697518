"""The factory's own figures: wheel size per arch against upstream's all-arch wheels, a second Python's
build cost (benchmarks/python_reuse.py), and `factory run` again with nothing changed."""

from __future__ import annotations

import re
import shutil
import sys
import time
from pathlib import Path

from bench_report import Section
from bench_tools import REPO, VENV_BIN, run

from index_server.local import LocalIndex

# ../shared/FACTS.md: upstream's GitHub release wheels hold every arch its setup.py lists (sm_75, 80, 87, 90,
# +100, 120 with CUDA >= 12.8, +103, 110, 121 with CUDA >= 13.0) and weigh 150-530 MB. Quoted, not measured:
# this machine cannot reach GitHub.
UPSTREAM_MB = (150, 530)
UPSTREAM_ARCHS_CUDA13 = 9


def _no_real_data(title: str, real_data: Path) -> Section:
    return Section(
        title=title,
        summary=f"Skipped: no index with the quick profile's wheels at {real_data} (build it with `make quick`, "
        "or pass --real-data DIR).",
        header=(),
    )


def missing_quick_tuples(real_data: Path) -> list[str]:
    """Ids of the quick profile's tuples that have no wheel in `real_data` (empty: all are there)."""
    from factory.plan.expand import plan
    from factory.plan.knowledge import load_knowledge
    from factory.plan.matrix import load_matrix
    from factory.plan.recipes import load_recipes

    quick = plan(load_matrix(REPO / "matrix.toml"), load_knowledge(), load_recipes(), "quick")
    have = {str(r.build_info["spec"]["id"]) for r in LocalIndex(real_data).files() if r.build_info}
    return sorted(spec.id for spec in quick.include if spec.id not in have)


def wheel_size(real_data: Path) -> Section:
    title = "Wheel size per arch: the factory's sm_90 wheels vs upstream's all-arch wheels"
    if not (real_data / "catalog.sqlite3").exists():
        return _no_real_data(title, real_data)
    section = Section(
        title=title,
        summary=(
            f"Sizes of the wheels in {real_data} (the quick profile) against upstream's {UPSTREAM_MB[0]}-"
            f"{UPSTREAM_MB[1]} MB wheels with {UPSTREAM_ARCHS_CUDA13} archs for CUDA 13 (quoted from FACTS.md, "
            "not measured here)."
        ),
        header=("wheel", "MB", "archs", "MB per arch", "upstream MB per arch", "ratio of totals"),
    )
    low, high = (mb / UPSTREAM_ARCHS_CUDA13 for mb in UPSTREAM_MB)
    for record in LocalIndex(real_data).files():
        if not record.filename.endswith(".whl") or not record.build_info:
            continue
        archs = record.build_info.get("spec", {}).get("archs") or []
        mb = record.size / 1e6
        per_arch = f"{mb / len(archs):.1f}" if archs else "n/a"
        section.rows.append(
            (
                record.filename,
                f"{mb:.1f}",
                ",".join(f"sm_{a}" for a in archs),
                per_arch,
                f"{low:.0f}-{high:.0f}",
                f"{mb / UPSTREAM_MB[1]:.3f}x-{mb / UPSTREAM_MB[0]:.3f}x",
            )
        )
    return section


def python_reuse(env: dict[str, str]) -> Section:
    """Runs benchmarks/python_reuse.py (two real builds, minutes of both cores)."""
    argv = [sys.executable, str(REPO / "benchmarks" / "python_reuse.py")]
    out = run(argv, env=env, cwd=REPO, timeout=7200)
    section = Section(
        title="A second Python for the same (CUDA, torch, ABI)",
        summary="`benchmarks/python_reuse.py`: causal-conv1d for cp311 then cp312, torch 2.14.1 + CUDA 13.0, sm_90, "
        "from an empty compile cache; the second build's stage time as a fraction of the first.",
        header=("build", "build stage s", "fraction of the first"),
        raw=[(" ".join(argv), out)],
    )
    seconds = re.findall(r"^(\S+): built, build stage ([\d.]+) s", out, re.MULTILINE)
    for i, (spec_id, value) in enumerate(seconds):
        fraction = "1x" if i == 0 else f"{float(value) / float(seconds[0][1]):.2f}x"
        section.rows.append((spec_id, value, fraction))
    return section


def rerun(work: Path, real_data: Path, env: dict[str, str]) -> Section:
    """`factory run --profile quick` into a copy of the quick profile's index: nothing should be built."""
    title = "`factory run` again with nothing changed (quick profile)"
    if not (real_data / "catalog.sqlite3").exists():
        return _no_real_data(title, real_data)
    missing = missing_quick_tuples(real_data)
    if missing:  # a run would build these: minutes of compiling, and not "nothing changed"
        return _no_real_data(title + f" (lacks {', '.join(missing)})", real_data)
    copy = work / "rerun" / "data"
    shutil.rmtree(copy.parent, ignore_errors=True)
    # files hard-linked; the catalog (and its WAL files) copied, since the run writes to it
    shutil.copytree(real_data, copy, copy_function=_link_or_copy, ignore=shutil.ignore_patterns("catalog.sqlite3*"))
    for db in real_data.glob("catalog.sqlite3*"):
        shutil.copy2(db, copy / db.name)
    argv = [
        str(VENV_BIN / "factory"),
        "run",
        "--profile",
        "quick",
        "--data",
        str(copy),
        "--work",
        str(copy.parent / "work"),
    ]
    started = time.monotonic()
    out = run(argv, env=env, cwd=REPO, timeout=7200)
    seconds = time.monotonic() - started
    return Section(
        title=title,
        summary=f"A copy of {real_data} (files hard-linked, catalog copied), then `factory run` on it, timed whole.",
        header=("command", "seconds"),
        rows=[("factory run --profile quick", f"{seconds:.1f}")],
        raw=[(" ".join(argv), out)],
    )


def _link_or_copy(source: str, target: str) -> None:
    try:
        Path(target).hardlink_to(source)
    except OSError:
        shutil.copy2(source, target)
