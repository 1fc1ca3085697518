"""What the index commands share: the --data option, their error class, and the facts the index needs.

The index reads no factory table: the CUDA major of PyPI's torch per torch minor (which builds the root
`/simple/` lists) is computed here from the knowledge table and handed in through IndexSettings.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from factory.errors import FactoryError
from factory.plan.knowledge import load_knowledge


class IndexCommandError(FactoryError):
    """An index command failed (unknown file, export target not empty, ...)."""


def add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="the index's data directory")
    parser.add_argument("--knowledge", type=Path, default=None, help=argparse.SUPPRESS)


def root_cuda_major(args: argparse.Namespace) -> dict[str, int]:
    """torch minor -> CUDA major of PyPI's own torch of that minor (the root channel's choice)."""
    return load_knowledge(args.knowledge).pypi_cuda_major()
