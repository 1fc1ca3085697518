"""`factory workflow`: the GitHub Actions side of the factory.

factory workflow check               rebuild.yml and ci.yml checked against matrix.toml and the planner
factory workflow tuple-env --id ID   the $GITHUB_ENV lines the build job hands to cibuildwheel
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from factory.commands.common import add_matrix_options, plan_from_args
from factory.errors import ConfigError, PlanError
from factory.job import resolve
from factory.knowledge import load_knowledge
from factory.matrix import load_matrix
from factory.patches import apply_patches
from factory.plan import plan
from factory.recipes import load_recipes, recipe_for
from factory.spec import BuildSpec
from factory.workflow import check_ci, check_rebuild, render_env, tuple_env


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("workflow", help="check the GitHub Actions workflows; per-tuple cibuildwheel settings")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="check .github/workflows against matrix.toml and the planner")
    add_matrix_options(check)
    check.add_argument("--workflows", type=Path, default=Path(".github/workflows"), help="workflow folder")
    check.set_defaults(handler=run_check)
    env = actions.add_parser("tuple-env", help="print the $GITHUB_ENV lines for one planned tuple")
    add_matrix_options(env)
    env.add_argument("--id", required=True, help="a tuple id from `factory plan --json`")
    env.set_defaults(handler=run_tuple_env)
    patch = actions.add_parser("patch", help="apply one tuple's recipe patches to an unpacked sdist")
    add_matrix_options(patch)
    patch.add_argument("--id", required=True, help="a tuple id from `factory plan --json`")
    patch.add_argument("--source", type=Path, required=True, help="the unpacked sdist (cibuildwheel's {package})")
    patch.set_defaults(handler=run_patch)


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


def run_check(args: argparse.Namespace) -> int:
    matrix = load_matrix(args.matrix)
    knowledge, recipes = load_knowledge(args.knowledge), load_recipes(args.recipes)
    sizes = {"full matrix": len(plan(matrix, knowledge, recipes).include)}
    sizes |= {f"profile {n}": len(plan(matrix, knowledge, recipes, n).include) for n in matrix.profiles}
    problems = [f"rebuild.yml: {p}" for p in check_rebuild(_load_yaml(args.workflows / "rebuild.yml"), matrix, sizes)]
    problems += [f"ci.yml: {p}" for p in check_ci(_load_yaml(args.workflows / "ci.yml"))]
    for problem in problems:
        print(problem)
    if not problems:
        shown = ", ".join(f"{k}: {v}" for k, v in sizes.items())
        print(f"workflows agree with {args.matrix} and the planner ({shown} tuples)")
    return 1 if problems else 0


def _spec(args: argparse.Namespace) -> BuildSpec:
    specs = {s.id: s for s in plan_from_args(args).include}
    if args.id not in specs:
        raise PlanError(f"{args.id!r} is not a tuple of this plan (profile {args.profile}); see `factory plan`")
    return specs[args.id]


def run_patch(args: argparse.Namespace) -> int:
    spec = _spec(args)
    try:
        applied_all = apply_patches(args.source, resolve(spec, load_recipes(args.recipes)).patches)
    except FileNotFoundError as missing:
        raise ConfigError(
            f"--source {args.source}: {missing.filename} not found; pass the unpacked sdist's top folder"
        ) from None
    for applied in applied_all:
        print(f"{spec.id}: patched {applied['file']} ({applied['name']}: {applied['why']})")
    return 0


def run_tuple_env(args: argparse.Namespace) -> int:
    spec = _spec(args)
    print(render_env(tuple_env(spec, recipe_for(load_recipes(args.recipes), spec.package), args.profile)), end="")
    return 0
