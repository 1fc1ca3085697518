"""`factory workflow`: the GitHub Actions side of the factory.

factory workflow check                      the workflows checked against matrix.toml and the planner
factory workflow batches --slots N [--plan F] $GITHUB_OUTPUT lines: the plan's cells in N batch matrices
factory workflow cell-env --cell ID [--builds] the $GITHUB_ENV lines a cell's job hands to cibuildwheel
factory workflow patch --cell ID --source   the recipe's patches applied to the unpacked sdist
factory workflow tuple-id --cell ID --wheel the tuple id of a wheel cibuildwheel compiled (for the repair hook)
factory workflow tuple-build --cell ID --wheel --builds  that tuple's build number (for the repair hook)
factory workflow container-setup --prefix   the build hooks and glibc-floor shim inside the build container
factory workflow build-cell, index-url, publish, disk: the runner's side (commands/workflow_job.py)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from factory.ci.check import check_ci, check_rebuild
from factory.ci.check_cells import check_cells_workflow
from factory.ci.hardening import check_permissions, check_pins
from factory.ci.workflow import (
    Cell,
    CellError,
    batch_outputs,
    builds_of_plan,
    cell_env,
    cells_of,
    only_tuples,
    render_env,
    runner_env,
    tuple_of,
)
from factory.commands import workflow_job
from factory.commands.common import add_matrix_options, plan_from_args
from factory.errors import ConfigError, FactoryError, PlanError
from factory.plan.expand import plan
from factory.plan.job import resolve
from factory.plan.knowledge import load_knowledge
from factory.plan.matrix import load_matrix
from factory.plan.recipes import load_recipes, recipe_for
from factory.process import SubprocessRunner
from factory.stages.patches import apply_patches


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("workflow", help="check the GitHub Actions workflows; per-cell cibuildwheel settings")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="check .github/workflows against matrix.toml and the planner")
    add_matrix_options(check)
    check.add_argument("--workflows", type=Path, default=Path(".github/workflows"), help="workflow folder")
    check.set_defaults(handler=run_check)
    batch = actions.add_parser("batches", help="print the plan's cells as $GITHUB_OUTPUT batch matrices")
    add_matrix_options(batch)
    batch.add_argument("--slots", type=int, required=True, help="how many batch jobs rebuild.yml declares")
    batch.add_argument(
        "--plan",
        type=Path,
        default=None,
        help="`factory plan --json [--index URL]` output: batch only its tuples, each at its build number "
        "(default: every planned tuple at build 1)",
    )
    batch.set_defaults(handler=run_batches)
    for name, handler, text in (
        ("cell-env", run_cell_env, "print the $GITHUB_ENV lines for one planned cell"),
        ("patch", run_patch, "apply one cell's recipe patches to an unpacked sdist"),
        ("tuple-id", run_tuple_id, "print the tuple id of one of the cell's wheels"),
        ("tuple-build", run_tuple_build, "print the build number of one of the cell's wheels"),
        ("build-cell", run_build_cell, "build each planned Python of a cell in its own run, publishing each"),
    ):
        one = actions.add_parser(name, help=text)
        add_matrix_options(one)
        one.add_argument("--cell", required=True, help="a cell id from `factory workflow batches`")
        if name == "patch":
            one.add_argument("--source", type=Path, required=True, help="the unpacked sdist ({package})")
        if name in ("tuple-id", "tuple-build"):
            one.add_argument("--wheel", type=Path, required=True, help="a wheel built for the cell ({wheel})")
        if name == "build-cell":
            workflow_job.add_build_cell_options(one)
        if name == "cell-env":
            one.add_argument("--scratch", default=None, help="the runner's folder for the compile cache volume")
            one.add_argument("--cores", type=int, default=None, help="the runner's cores (default: this machine's)")
            one.add_argument("--memory-gb", type=float, default=None, help="its memory (default: this machine's)")
        if name in ("cell-env", "tuple-build", "build-cell"):
            one.add_argument(
                "--builds",
                default=None,
                required=name == "tuple-build",
                metavar="JSON",
                help='{"TUPLE_ID": BUILD, ...}: the cell\'s `builds` from `factory workflow batches` (cell-env: '
                "only these tuples are built; default: all at build 1)",
            )
        one.set_defaults(handler=handler)
    workflow_job.register(actions)
    setup = actions.add_parser("container-setup", help="build hooks and glibc-floor shim under PREFIX")
    setup.add_argument("--prefix", type=Path, required=True, help="the factory's folder in the container")
    setup.set_defaults(handler=run_container_setup)


def _load_yaml(path: Path) -> dict[Any, Any]:
    try:
        import yaml
    except ImportError:
        raise ConfigError("`factory workflow check` reads YAML with PyYAML: pip install -e '.[dev]'") from None
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such workflow; pass --workflows DIR") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: not a workflow (expected a mapping at the top)")
    return doc


def _read_plan(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"--plan {path}: no such file; write it with `factory plan --json > {path}`") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"--plan {path}: not JSON ({err}); write it with `factory plan --json`") from None


def _cells(args: argparse.Namespace) -> list[Cell]:
    specs = plan_from_args(args).include
    try:
        if getattr(args, "plan", None) is None:
            return cells_of(specs)
        builds = builds_of_plan(_read_plan(args.plan), specs)
        by_id = {s.id: s for s in specs}
        return cells_of([by_id[i] for i in builds], builds)  # in the plan file's order (wanted cells first)
    except CellError as err:
        raise PlanError(str(err)) from None


def _builds(args: argparse.Namespace) -> dict[str, int] | None:
    if args.builds is None:
        return None
    try:
        builds = json.loads(args.builds)
    except json.JSONDecodeError as err:
        raise ConfigError(f"--builds: not JSON ({err}); pass the cell's `builds` object") from None
    if not isinstance(builds, dict):
        raise ConfigError('--builds: expected an object {"TUPLE_ID": BUILD, ...}, the cell\'s `builds`')
    return builds


def _cibuildwheel_pin(root: Path) -> str | None:
    """The exact cibuildwheel version pyproject.toml pins (None: no pyproject.toml beside the workflows)."""
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    except (FileNotFoundError, KeyError):
        return None
    for requirement in project.get("dependencies", []):
        name, _, version = str(requirement).partition("==")
        if name.strip() == "cibuildwheel":
            return version.strip()
    return ""  # pinned by no `==`: the check reports it


def run_check(args: argparse.Namespace) -> int:
    matrix = load_matrix(args.matrix)
    knowledge, recipes = load_knowledge(args.knowledge), load_recipes(args.recipes)
    plans = {"full matrix": cells_of(plan(matrix, knowledge, recipes).include)}
    plans |= {f"profile {n}": cells_of(plan(matrix, knowledge, recipes, n).include) for n in matrix.profiles}
    folder = args.workflows
    pin = _cibuildwheel_pin(folder.resolve().parents[1])
    docs = {name: _load_yaml(folder / name) for name in ("rebuild.yml", "build-cells.yml", "ci.yml")}
    problems = [f"rebuild.yml: {p}" for p in check_rebuild(docs["rebuild.yml"], matrix, plans)]
    problems += [f"build-cells.yml: {p}" for p in check_cells_workflow(docs["build-cells.yml"], pin)]
    problems += [f"ci.yml: {p}" for p in check_ci(docs["ci.yml"])]
    for name, doc in docs.items():
        problems += [f"{name}: {p}" for p in check_permissions(doc)]
        problems += [f"{name}: {p}" for p in check_pins((folder / name).read_text())]
    if pin == "":
        problems.append("pyproject.toml: cibuildwheel is not pinned to one version (cibuildwheel==X.Y.Z)")
    for problem in problems:
        print(problem)
    if not problems:
        shown = ", ".join(f"{k}: {len(v)} cells, {sum(len(c.specs) for c in v)} tuples" for k, v in plans.items())
        print(f"workflows agree with {args.matrix} and the planner ({shown})")
    return 1 if problems else 0


def run_batches(args: argparse.Namespace) -> int:
    try:
        print(render_env(batch_outputs(_cells(args), args.slots)), end="")
    except CellError as err:
        raise PlanError(str(err)) from None
    return 0


def _cell(args: argparse.Namespace) -> Cell:
    cells = {c.id: c for c in _cells(args)}
    if args.cell not in cells:
        raise PlanError(
            f"{args.cell!r} is not a cell of this plan (profile {args.profile}); see `factory workflow batches`"
        )
    return cells[args.cell]


def _numbered_cell(args: argparse.Namespace) -> Cell:
    cell, builds = _cell(args), _builds(args)
    try:
        return cell if builds is None else only_tuples(cell, builds)
    except CellError as err:
        raise PlanError(str(err)) from None


def _memory_gb() -> float:
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    raise ConfigError("/proc/meminfo has no MemTotal line; pass --memory-gb")


def run_cell_env(args: argparse.Namespace) -> int:
    cell = _numbered_cell(args)
    recipe = recipe_for(load_recipes(args.recipes), cell.first.package)
    env = cell_env(cell, recipe, args.profile)
    if args.scratch is not None:
        cores = args.cores or os.cpu_count() or 1
        env |= runner_env(cell, cores, args.memory_gb or _memory_gb(), args.scratch)
    try:
        print(render_env(env), end="")
    except CellError as err:
        raise PlanError(str(err)) from None
    return 0


def run_patch(args: argparse.Namespace) -> int:
    cell = _cell(args)
    recipes = load_recipes(args.recipes)
    rendered = {resolve(s, recipes).patches for s in cell.specs}
    if len(rendered) != 1:
        raise PlanError(f"cell {cell.id}: its Pythons need different patches; build them in separate jobs")
    try:
        applied_all = apply_patches(args.source, rendered.pop())
    except FileNotFoundError as missing:
        raise ConfigError(
            f"--source {args.source}: {missing.filename} not found; pass the unpacked sdist's top folder"
        ) from None
    for applied in applied_all:
        print(f"{cell.id}: patched {applied['file']} ({applied['name']}: {applied['why']})")
    return 0


def _python_tag(wheel: Path) -> str:
    try:
        _, _, _, tags = parse_wheel_filename(wheel.name)
    except InvalidWheelFilename as err:
        raise FactoryError(f"--wheel {wheel.name}: not a wheel file name ({err})") from None
    return next(iter(tags)).interpreter


def run_tuple_id(args: argparse.Namespace) -> int:
    try:
        print(tuple_of(_cell(args), _python_tag(args.wheel)).id)
    except CellError as err:
        raise PlanError(str(err)) from None
    return 0


def run_tuple_build(args: argparse.Namespace) -> int:
    cell = _numbered_cell(args)
    try:
        print(cell.build_of(tuple_of(cell, _python_tag(args.wheel))))
    except CellError as err:
        raise PlanError(str(err)) from None
    return 0


def run_build_cell(args: argparse.Namespace) -> int:
    return workflow_job.run_build_cell(args, _numbered_cell(args))


def run_container_setup(args: argparse.Namespace) -> int:
    """The factory's build hooks (torch's headers on one path for the compile cache) and the glibc-floor
    shim the local build links too, under PREFIX (cibuildwheel's before-all)."""
    data = Path(str(resources.files("factory").joinpath("data")))
    hooks = args.prefix / "hooks"
    hooks.mkdir(parents=True, exist_ok=True)
    shutil.copy(data / "buildhooks" / "sitecustomize.py", hooks / "sitecustomize.py")
    shim = args.prefix / "shim" / "libc_single_threaded.o"
    shim.parent.mkdir(parents=True, exist_ok=True)
    log = args.prefix / "container-setup.log"
    argv = ["gcc", "-c", "-fPIC", "-O2", data / "libc_single_threaded.c", "-o", shim]
    done = SubprocessRunner()(argv, env=dict(os.environ), cwd=None, log=log)
    if not done.ok:
        raise FactoryError(f"cannot compile the glibc-floor shim: {done.summary()} (log: {log})")
    print(f"build hooks in {hooks}, shim {shim}")
    return 0
