"""Benchmark: what SASS for sm_80 + sm_90 plus compute_90 PTX costs against sm_90 alone (issue 19).

For one package's quick tuple (torch 2.14.1 + CUDA 13.0 + new ABI), per arch set: a fresh factory cache
(uv's package cache linked in, so envs are hard links and nothing is downloaded; an empty compile cache),
then the build for CPython 3.11 (the first tuple of the cell) and for 3.12 (a second Python, reusing the
device code). Prints per build the build stage's wall seconds, the CPU seconds of its processes (user +
sys of the children), and the wheel's size; then the ratios. Figures, not asserts; run on an idle machine.

    python benchmarks/arch_cost.py [--package causal-conv1d] [--keep]

Each arch set's fresh cache is removed once measured unless --keep.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time
from pathlib import Path

from factory.commands.common import add_build_options
from factory.plan.expand import plan
from factory.plan.job import resolve
from factory.plan.knowledge import load_knowledge
from factory.plan.matrix import load_matrix
from factory.plan.recipes import load_recipes
from factory.process import SubprocessRunner
from factory.run.pipeline import build_tuple
from factory.stages.provision import provision

sys.path.insert(0, str(Path(__file__).resolve().parent))
from python_reuse import add_keep_option, fresh_cache_context

ROOT = Path(__file__).resolve().parents[1]
ARCH_SETS = {"sm_90": (("90",), None), "sm_80+sm_90+PTX": (("80", "90"), "90")}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--package", default="causal-conv1d")
    parser.add_argument("--pythons", nargs="+", default=["3.11", "3.12"])
    add_build_options(parser)
    add_keep_option(parser)
    parser.set_defaults(recipes=None, skip_dependency_check=True)
    args = parser.parse_args()
    quick = plan(load_matrix(ROOT / "matrix.toml"), load_knowledge(), load_recipes(), "quick")
    base = next(s for s in quick.include if s.package == args.package)
    results: dict[tuple[str, str], tuple[float, float, int]] = {}
    for label, (archs, ptx) in ARCH_SETS.items():
        with fresh_cache_context(args, "arch-cost-") as (ctx, root):
            specs = [dataclasses.replace(base, python=py, archs=archs, ptx=ptx) for py in args.pythons]
            runner = SubprocessRunner()
            for spec in specs:  # envs and the toolkit first: not part of the timed builds
                provision(spec, ctx, runner, root / "provision.log")
            for spec in specs:
                cpu, began = children_cpu(), time.monotonic()
                result = build_tuple(resolve(spec, ctx.recipes), ctx, root / "out")
                cpu, wall = children_cpu() - cpu, time.monotonic() - began
                if result.outcome != "built":
                    print(f"{spec.id} {label}: {result.stage}: {result.cause}: {result.message}", file=sys.stderr)
                    return 1
                build = json.loads((root / "out" / spec.id / "build.json").read_text())
                size = result.wheel.stat().st_size if result.wheel else 0
                results[(label, spec.python)] = (float(build["seconds"]), cpu, size)
                print(
                    f"{args.package} {label} cp{spec.python.replace('.', '')}: build stage {build['seconds']:.0f} s "
                    f"wall, whole tuple {wall:.0f} s wall / {cpu:.0f} s CPU, wheel {size / 1e6:.1f} MB",
                    flush=True,
                )
    first, second = args.pythons[0], args.pythons[1]
    one, two = ARCH_SETS
    for python in (first, second):
        a, b = results[(one, python)], results[(two, python)]
        print(
            f"cp{python.replace('.', '')}: {two} / {one} = {b[0] / a[0]:.2f}x build wall, {b[1] / a[1]:.2f}x CPU, "
            f"{b[2] / a[2]:.2f}x wheel size"
        )
    for label in ARCH_SETS:
        print(f"{label}: second Python {results[(label, second)][0] / results[(label, first)][0]:.2f}x the first")
    return 0


if __name__ == "__main__":
    sys.exit(main())
