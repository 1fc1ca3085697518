"""`factory plan`: show the tuples a matrix expands to, or emit them as a GitHub Actions matrix."""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

from rich.console import Console
from rich.table import Table

from factory.commands.common import add_matrix_options, plan_from_args
from factory.plan import Plan
from factory.workflow import cells_of


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="expand matrix.toml into build tuples")
    add_matrix_options(p)
    p.add_argument(
        "--json",
        action="store_true",
        help='print {"include": [...], "dropped": [...]} (a GitHub Actions matrix)',
    )
    p.add_argument(
        "--cells",
        action="store_true",
        help='with --json: add "cells", the tuples grouped per (package, release, CUDA, torch, ABI) with their Pythons',
    )
    p.add_argument("--dropped", action="store_true", help="also list every dropped combination with its reason")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    result = plan_from_args(args)
    if args.json:
        data = result.to_json()
        if args.cells:
            data["cells"] = [c.to_json() for c in cells_of(result.include)]
        print(json.dumps(data, indent=None, separators=(",", ":")))
    else:
        render(result, Console(), show_dropped=args.dropped)
    return 0


def render(result: Plan, console: Console, *, show_dropped: bool) -> None:
    groups: dict[tuple[str, str, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for spec in result.include:
        row = groups[(str(spec.package), str(spec.version), spec.torch_minor)]
        row[f"cu{spec.cuda} abi{spec.abi_flag} {spec.platform.replace('_x86_64', '')}"].append(spec.python)
    table = Table(title=f"{len(result.include)} tuples to build, {len(result.dropped)} combinations dropped")
    for column in ("package", "version", "torch", "CUDA / ABI / floor", "Pythons", "n"):
        table.add_column(column)
    for (package, version, torch), variants in groups.items():
        for variant, pythons in variants.items():
            table.add_row(package, version, torch, variant, " ".join(pythons), str(len(pythons)))
    console.print(table)
    if show_dropped:
        dropped = Table(title="dropped")
        for column in ("package", "version", "torch", "cuda", "python", "reason"):
            dropped.add_column(column)
        for d in result.dropped:
            dropped.add_row(str(d.package), str(d.version), d.torch, d.cuda or "", d.python or "", d.reason)
        console.print(dropped)
    elif result.dropped:
        console.print(f"[dim]{len(result.dropped)} dropped combinations: add --dropped to see each reason[/dim]")
