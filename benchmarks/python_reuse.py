"""Benchmark: what a second Python costs once one Python of the same (CUDA, torch, ABI) was built.

Builds one package for torch 2.14.1 + CUDA 13.0 + new ABI + sm_90, for CPython 3.11 and then 3.12, from
an empty compile cache, and prints the build stage's wall time for each and their ratio. Envs come from
the shared package cache (hard links) and are created before the timed builds.

    python benchmarks/python_reuse.py [--package causal-conv1d] [--pythons 3.11 3.12] [--keep]

The fresh cache (envs, sources, compile cache: gigabytes) is removed at the end unless --keep.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from factory.commands.common import add_build_options, context_from_args
from factory.context import BuildContext
from factory.plan.expand import plan
from factory.plan.job import resolve
from factory.plan.knowledge import load_knowledge
from factory.plan.matrix import load_matrix
from factory.plan.recipes import load_recipes
from factory.process import SubprocessRunner
from factory.run.pipeline import build_tuple
from factory.stages.provision import provision

ROOT = Path(__file__).resolve().parents[1]


def add_keep_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keep", action="store_true", help="keep the fresh cache folder to look into")


@contextlib.contextmanager
def fresh_cache_context(args: argparse.Namespace, prefix: str) -> Iterator[tuple[BuildContext, Path]]:
    """A build context on a new, empty factory cache whose uv package cache is the shared one (torch
    wheels: hard links, no download), so nothing compiled before is reused. The folder (a torch env per
    Python, the sources, the compile cache: gigabytes) is removed afterwards unless `args.keep`."""
    shared = Path(os.environ.get("FACTORY_CACHE") or Path.home() / ".cache" / "cuda-wheel-factory")
    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        (root / "uv").symlink_to(shared / "uv", target_is_directory=True)  # removed as a link, never followed
        args.cache = root
        yield context_from_args(args), root
    finally:
        if args.keep:
            print(f"work folder kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--package", default="causal-conv1d")
    parser.add_argument("--pythons", nargs="+", default=["3.11", "3.12"])
    add_build_options(parser)
    add_keep_option(parser)
    parser.set_defaults(recipes=None, skip_dependency_check=True)
    args = parser.parse_args()
    with fresh_cache_context(args, "python-reuse-") as (ctx, root):
        return measure(args, ctx, root)


def measure(args: argparse.Namespace, ctx: BuildContext, root: Path) -> int:
    quick = plan(load_matrix(ROOT / "matrix.toml"), load_knowledge(), load_recipes(), "quick")
    base = next(s for s in quick.include if s.package == args.package)
    specs = [dataclasses.replace(base, python=py) for py in args.pythons]
    runner = SubprocessRunner()
    for spec in specs:  # envs first: not part of the timed builds
        provision(spec, ctx, runner, root / "provision.log")
    rows = []
    for spec in specs:
        result = build_tuple(resolve(spec, ctx.recipes), ctx, root / "out")
        record = json.loads((root / "out" / spec.id / "build.json").read_text())
        rows.append((spec.id, result.outcome, float(record["seconds"])))
        print(
            f"{spec.id}: {result.outcome}, build stage {record['seconds']:.1f} s, whole tuple {result.seconds:.1f} s",
            flush=True,
        )
        if result.outcome != "built":
            print(f"  {result.stage}: {result.cause}: {result.message}", file=sys.stderr)
            return 1
    first = rows[0][2]
    for spec_id, _, seconds in rows[1:]:
        print(f"{spec_id}: {seconds:.1f} s = {seconds / first:.2f}x the first build ({first:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
