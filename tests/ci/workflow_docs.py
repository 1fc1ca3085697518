"""The workflow files as the CI tests read them, and the problems the checks find after an edit."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from factory.ci.check import check_rebuild
from factory.ci.check_cells import check_cells_workflow
from factory.ci.workflow import cells_of
from factory.plan.expand import plan
from factory.plan.knowledge import load_knowledge
from factory.plan.matrix import load_matrix
from factory.plan.recipes import load_recipes

ROOT = Path(__file__).parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_FILES = ("rebuild.yml", "build-cells.yml", "ci.yml")
CIBUILDWHEEL_PIN = "4.3.5"  # pyproject.toml's


def load(name: str) -> dict[Any, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def step(doc: dict[Any, Any], job: str, name_part: str) -> dict[str, Any]:
    """The step of `job` whose id is `name_part`, else the first whose name contains it."""
    steps = doc["jobs"][job]["steps"]
    by_id = [s for s in steps if s.get("id") == name_part]
    return by_id[0] if by_id else next(s for s in steps if name_part in str(s.get("name", "")))


def full_plan() -> Any:
    """The full matrix's plan with the packaged tables (compat.toml included), as `factory plan` makes it."""
    return plan(load_matrix(ROOT / "matrix.toml"), load_knowledge(), load_recipes())


def full_cells() -> dict[str, list[Any]]:
    return {"full": cells_of(full_plan().include)}


def rebuild_problems(edit: Any) -> list[str]:
    doc = copy.deepcopy(load("rebuild.yml"))
    edit(doc)
    return check_rebuild(doc, load_matrix(ROOT / "matrix.toml"), full_cells())


def cells_problems(edit: Any) -> list[str]:
    doc = copy.deepcopy(load("build-cells.yml"))
    edit(doc)
    return check_cells_workflow(doc, CIBUILDWHEEL_PIN)
