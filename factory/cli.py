"""The `factory` command line: the only place that reads the environment and turns errors into exit codes."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from factory.errors import FactoryError
from factory.process import stop_children_on_signals

# Each module registers one or more subcommands: `register(subparsers)` adds parsers whose
# `handler(args) -> int` does the work. Keep this list in pipeline order.
COMMANDS = (
    "factory.commands.plan",
    "factory.commands.build",
    "factory.commands.repair",
    "factory.commands.discover",
    "factory.commands.workflow",
    "factory.commands.run",
    "factory.commands.learn",
    "factory.commands.serve",
    "factory.commands.export",
    "factory.commands.yank",
    "factory.commands.fsck",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="factory",
        description="Build, repair, verify and serve CUDA extension wheels for each torch/CUDA/Python/ABI.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if argv is None:  # run as the program (not called from a test): `kill` must not leave compilers running
        stop_children_on_signals()
    try:
        code: int = args.handler(args)
    except FactoryError as err:
        print(f"factory {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"factory {args.command}: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
