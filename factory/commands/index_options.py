"""What the index commands share: the --data option, their error class, and the facts the index needs.

The index reads no factory table: the CUDA major of PyPI's torch per torch minor (which builds the root
`/simple/` lists) is computed here from the knowledge table, and the plan's verdicts on wanted tuples from
the matrix, and both are handed in through IndexSettings.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from packaging.utils import canonicalize_name

from factory.errors import FactoryError
from factory.plan.knowledge import load_knowledge
from factory.plan.matrix import Profile, load_matrix
from factory.plan.recipes import load_recipes
from factory.plan.wanted import widen
from index_server.wants import WantPlan

DEFAULT_MATRIX = Path("matrix.toml")


class IndexCommandError(FactoryError):
    """An index command failed (unknown file, export target not empty, ...)."""


def add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="the index's data directory")
    parser.add_argument("--knowledge", type=Path, default=None, help=argparse.SUPPRESS)


def root_cuda_major(args: argparse.Namespace) -> dict[str, int]:
    """torch minor -> CUDA major of PyPI's own torch of that minor (the root channel's choice)."""
    return load_knowledge(args.knowledge).pypi_cuda_major()


def want_plan(matrix: Path, args: argparse.Namespace) -> WantPlan:
    """What the full matrix's knowledge can build, for the index to judge wants by (factory.plan.wanted)."""
    knowledge = load_knowledge(args.knowledge)
    return widen(load_matrix(matrix), knowledge, load_recipes(None), Profile(name="full")).table


def hosted_names(matrix: Path | None, extra: Sequence[str]) -> frozenset[str]:
    """Every project the index hosts: the matrix's packages (`matrix`, else ./matrix.toml when present),
    every package the built-in recipes can build, and `extra`. None of them is ever taken from upstream."""
    names = {canonicalize_name(n) for n in extra}
    names |= set(load_recipes())
    path = matrix if matrix is not None else (DEFAULT_MATRIX if DEFAULT_MATRIX.is_file() else None)
    if path is not None:
        names |= {entry.name for entry in load_matrix(path).packages}
    return frozenset(names)
