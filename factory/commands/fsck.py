"""`factory fsck --data DIR [--repair]`: check the index's catalog against its files."""

from __future__ import annotations

import argparse
from pathlib import Path

from factory.errors import FactoryError


class FsckError(FactoryError):
    """The data directory holds no index."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fsck",
        help="check the index's catalog against its files (digests, .metadata, strays); exit 1 on a problem",
    )
    p.add_argument("--data", type=Path, required=True, help="the index's data directory")
    p.add_argument(
        "--repair",
        action="store_true",
        help="drop rows whose file is missing, remove orphan files and stray temporaries, rewrite .metadata "
        "files from their wheels (corrupted files are reported, never deleted)",
    )
    p.set_defaults(handler=run_fsck)


def run_fsck(args: argparse.Namespace) -> int:
    from index_server.storage.fsck import fsck_data_dir

    try:
        report = fsck_data_dir(args.data, repair=args.repair)
    except FileNotFoundError as err:
        raise FsckError(f"{err}; pass the --data directory that `factory serve` uses") from None
    for problem in report.problems:
        done = " [repaired]" if problem in report.repaired else ""
        print(problem.line() + done)
    left = [p for p in report.problems if p not in report.repaired]
    print(
        f"fsck {args.data}: {report.checked} files checked, {len(report.problems)} problems, "
        f"{len(report.repaired)} repaired, {len(left)} left" + ("" if left else ": clean")
    )
    return 1 if left else 0
