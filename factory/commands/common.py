"""Options shared by several subcommands (matrix file, profile), parsed into loaded objects."""

from __future__ import annotations

import argparse
from pathlib import Path

from factory.knowledge import load_knowledge
from factory.matrix import load_matrix
from factory.plan import Plan, plan
from factory.recipes import load_recipes


def add_matrix_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--matrix", type=Path, default=Path("matrix.toml"), help="matrix file (default: ./matrix.toml)"
    )
    parser.add_argument(
        "--profile", default=None, help="a [profiles.NAME] of the matrix file (default: the full matrix)"
    )
    parser.add_argument("--knowledge", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--recipes", type=Path, default=None, help=argparse.SUPPRESS)


def plan_from_args(args: argparse.Namespace) -> Plan:
    return plan(
        load_matrix(args.matrix),
        load_knowledge(args.knowledge),
        load_recipes(args.recipes),
        args.profile,
    )
