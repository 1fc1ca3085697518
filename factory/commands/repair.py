"""`factory repair`: the repair stage alone, for a raw wheel of one tuple built elsewhere.

cibuildwheel's repair hook in the rebuild workflow calls it with the wheel it compiled, so a tuple is
compiled once there and still gets exactly the local repair: auditwheel to the tuple's floor, the label,
the torch pin, dependency rewrites, provenance and the import guard.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from rich.console import Console

from factory.commands.common import add_matrix_options, plan_from_args
from factory.context import BuildContext
from factory.errors import FactoryError, PlanError
from factory.inputs import compiler_version
from factory.job import resolve
from factory.process import SubprocessRunner, TimeLimited
from factory.provenance import outside_provenance
from factory.recipes import load_recipes
from factory.records import StageFailed, sha256_file
from factory.repair import repair_wheel

_TORCH_PINS = "import importlib.metadata as m, json; print(json.dumps([m.version('torch'), m.requires('torch') or []]))"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("repair", help="repair and relabel one tuple's wheel built elsewhere (cibuildwheel's hook)")
    add_matrix_options(p)
    p.add_argument("--id", required=True, help="the tuple id (see `factory plan`)")
    p.add_argument("--wheel", type=Path, required=True, help="the raw wheel to repair")
    p.add_argument("--dest", type=Path, required=True, help="folder for the repaired wheel")
    p.add_argument("--torch-python", default="python", help="a Python holding the tuple's torch (default: python)")
    p.add_argument("--sdist-sha256", default=None, help="sha256 of the sdist the wheel was built from")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    console = Console()
    matches = [s for s in plan_from_args(args).include if s.id == args.id]
    if not matches:
        raise PlanError(f"no planned tuple has the id {args.id!r}; see `factory plan`")
    spec = matches[0]
    if not args.wheel.is_file():
        raise FactoryError(f"--wheel {args.wheel}: no such file")
    recipes = load_recipes(args.recipes)
    job = resolve(spec, recipes)
    work = Path(tempfile.mkdtemp(prefix="factory-repair-"))
    log = work / "repair.log"
    ctx = BuildContext(
        cache=work,
        uv=Path("uv"),
        recipes=recipes,
        base_env=dict(os.environ),
        auditwheel=Path(sys.executable).parent / "auditwheel",
    )
    runner = TimeLimited(SubprocessRunner(), ctx.timeouts.repair)  # each command: repair's default limit
    probed = runner([args.torch_python, "-c", _TORCH_PINS], env=ctx.base_env, cwd=None, log=log)
    if not probed.ok:
        raise FactoryError(f"{args.torch_python} has no torch to read pins from; pass --torch-python")
    torch_version, pins = json.loads(probed.output.strip().splitlines()[-1])
    compiler = compiler_version(ctx, runner, log)
    provenance = outside_provenance(job, args.sdist_sha256, sha256_file(args.wheel), compiler, torch_version)
    try:
        repaired = repair_wheel(job, ctx, args.wheel, pins, provenance, work, runner, log)
    except StageFailed as err:
        console.print(f"[red]repair failed[/]: {err.cause}: {err.message}\nlog: {log}")
        return 1
    args.dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(repaired.path, args.dest / repaired.path.name)
    console.print(f"{spec.id}: {args.dest / repaired.path.name} (auditwheel: {repaired.sym_tag})")
    return 0
