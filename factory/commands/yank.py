"""`factory yank` / `factory unyank`: PEP 592 yanking of one stored file (one switch, two verbs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from factory.commands.index_options import IndexCommandError, add_data


def register(sub: argparse._SubParsersAction) -> None:
    yank = sub.add_parser("yank", help="yank a file (PEP 592): installers skip it unless pinned exactly")
    add_data(yank)
    yank.add_argument("filename", help="the file's name, e.g. mamba_ssm-2.3.2...whl")
    yank.add_argument("--reason", default="", help="shown to users by pip")
    yank.set_defaults(handler=lambda args: set_yanked(args.data, args.filename, args.reason))
    unyank = sub.add_parser("unyank", help="unyank a file (PEP 592): installers see it again")
    add_data(unyank)
    unyank.add_argument("filename", help="the file's name, e.g. mamba_ssm-2.3.2...whl")
    unyank.set_defaults(handler=lambda args: set_yanked(args.data, args.filename, None))


def set_yanked(data: Path, filename: str, reason: str | None) -> int:
    """Yank `filename` with `reason`, or unyank it when `reason` is None."""
    from index_server.errors import IndexError as IndexRefusal
    from index_server.local import LocalIndex

    try:
        LocalIndex(data).catalog.set_yanked(filename, reason)
    except IndexRefusal as err:
        raise IndexCommandError(str(err)) from None
    print(f"{filename}: {'yanked' if reason is not None else 'unyanked'}")
    return 0
