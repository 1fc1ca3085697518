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

import httpx
from rich.console import Console

from factory.commands.common import add_matrix_options, plan_from_args
from factory.context import BuildContext
from factory.errors import FactoryError, PlanError
from factory.plan.job import resolve
from factory.plan.recipes import load_recipes
from factory.process import SubprocessRunner, fixed_limit
from factory.stages.fetch import sdist_sha256
from factory.stages.inputs import compiler_version
from factory.stages.provenance import hook_provenance
from factory.stages.records import StageFailed, sha256_file
from factory.stages.repair import repair_wheel
from factory.stages.repair_plan import ZIP_EPOCH_MIN
from factory.stages.sources import sdist_epoch

_TORCH_PINS = "import importlib.metadata as m, json; print(json.dumps([m.version('torch'), m.requires('torch') or []]))"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("repair", help="repair and relabel one tuple's wheel built elsewhere (cibuildwheel's hook)")
    add_matrix_options(p)
    p.add_argument("--id", required=True, help="the tuple id (see `factory plan`)")
    p.add_argument("--wheel", type=Path, required=True, help="the raw wheel to repair")
    p.add_argument("--dest", type=Path, required=True, help="folder for the repaired wheel")
    p.add_argument("--torch-python", default="python", help="a Python holding the tuple's torch (default: python)")
    p.add_argument(
        "--sdist",
        type=Path,
        default=None,
        help="the sdist the wheel was built from: gives its sha256 and the timestamp of every member",
    )
    p.add_argument(
        "--sdist-sha256", default=None, help="the sdist's sha256 without the file (default: PyPI's published digest)"
    )
    p.add_argument(
        "--source-date-epoch",
        type=int,
        default=None,
        help="timestamp of every member when --sdist is not given (default: 1980-01-01, the zip minimum)",
    )
    p.add_argument("--build", type=int, default=1, help="PEP 427 build number (`build` of `factory plan --index`)")
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
    runner = fixed_limit(SubprocessRunner(), ctx.timeouts.repair)  # each command: repair's default limit
    probed = runner([args.torch_python, "-c", _TORCH_PINS], env=ctx.base_env, cwd=None, log=log)
    if not probed.ok:
        raise FactoryError(f"{args.torch_python} has no torch to read pins from; pass --torch-python")
    torch_version, pins = json.loads(probed.output.strip().splitlines()[-1])
    if args.build < 1:
        raise FactoryError(f"--build {args.build}: build numbers start at 1")
    if args.sdist is not None and not args.sdist.is_file():
        raise FactoryError(f"--sdist {args.sdist}: no such file")
    if args.sdist is not None:
        sdist_sha, epoch = sha256_file(args.sdist), sdist_epoch(args.sdist)
    else:
        epoch = args.source_date_epoch if args.source_date_epoch is not None else ZIP_EPOCH_MIN
        if args.sdist_sha256:
            sdist_sha = args.sdist_sha256
        else:
            with httpx.Client(timeout=60) as http:
                sdist_sha = sdist_sha256(spec, ctx, http)
    nvcc = runner(["nvcc", "--version"], env=ctx.base_env, cwd=None, log=log)
    provenance = hook_provenance(
        job,
        sdist_sha256=sdist_sha,
        raw_wheel_sha256=sha256_file(args.wheel),
        toolkit={"nvcc": nvcc.output.strip().splitlines()[-1] if nvcc.ok and nvcc.output.strip() else "unknown"},
        compiler=compiler_version(ctx, runner, log),
        torch={"version": torch_version},
    )
    try:
        repaired = repair_wheel(
            job, ctx, args.wheel, pins, provenance, work, runner, log, build=args.build, epoch=epoch
        )
    except StageFailed as err:
        console.print(f"[red]repair failed[/]: {err.cause}: {err.message}\nlog: {log}")
        return 1
    args.dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(repaired.path, args.dest / repaired.path.name)
    console.print(f"{spec.id}: {args.dest / repaired.path.name} (auditwheel: {repaired.sym_tag})")
    return 0
