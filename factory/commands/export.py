"""`factory export-static`: the whole index as static files for any web server or object store."""

from __future__ import annotations

import argparse
from pathlib import Path

from factory.commands.index_options import IndexCommandError, add_data, root_cuda_major
from index_server.settings import IndexSettings


def register(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser("export-static", help="write the index as a static tree (HTML, JSON, files)")
    add_data(export)
    export.add_argument("--out", type=Path, required=True, help="an empty or new directory")
    export.add_argument("--base-url", default="", help="where the export will be served (used in the web pages' links)")
    export.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    from index_server.export import export_static
    from index_server.local import LocalIndex

    settings = IndexSettings(data_dir=args.data, root_cuda_major=root_cuda_major(args))
    index = LocalIndex(args.data, settings)
    try:
        result = export_static(index, args.out, args.base_url.rstrip("/"))
    except FileExistsError as err:
        raise IndexCommandError(str(err)) from None
    for line in result.skipped:
        print(f"skipped {line}")
    print(f"exported {result.files} files to {args.out}; serve it with any static server")
    if result.skipped:
        print(f"{len(result.skipped)} left out (above); `factory fsck --data {args.data}` says more")
        return 1
    return 0
