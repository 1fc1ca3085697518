"""`factory build`: provision → fetch → build → repair → verify for each selected tuple, one at a time."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.status import Status
from rich.table import Table

from factory.commands.common import add_build_options, add_selection_options, context_from_args, selected_specs
from factory.plan.job import resolve
from factory.run.pipeline import build_tuple
from index_server.contract import Outcome


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build", help="build, repair and verify wheels for the planned tuples")
    add_selection_options(p)
    add_build_options(p)
    p.add_argument("--out", type=Path, required=True, help="where wheels, records and logs go")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    console = Console()
    specs = selected_specs(args)
    ctx = context_from_args(args)
    out = args.out.resolve()
    results = []
    for n, spec in enumerate(specs, 1):
        console.print(f"[bold]({n}/{len(specs)}) {spec.id}[/bold]  log: {out / spec.id / 'build.log'}")
        with console.status(f"{spec.id}: starting") as status:

            def show(stage: str, spec_id: str = spec.id, status: Status = status) -> None:
                status.update(f"{spec_id}: {stage}")

            result = build_tuple(resolve(spec, ctx.recipes), ctx, out, on_stage=show)
        colour = {Outcome.BUILT: "green", Outcome.SKIPPED: "yellow"}.get(result.outcome, "red")
        console.print(
            f"  [{colour}]{result.outcome}[/] in {result.seconds:.0f} s"
            + (
                f" at {result.stage}: {result.cause}: {result.message}"
                if result.outcome != Outcome.BUILT
                else f": {result.wheel}"
            )
        )
        results.append(result)
    table = Table(title=f"factory build: {len(results)} tuples")
    for column in ("tuple", "outcome", "stage", "cause", "wheel / first error", "s"):
        table.add_column(column, overflow="fold")
    for r in results:
        table.add_row(
            r.spec.id,
            r.outcome,
            r.stage or "",
            r.cause or "",
            r.wheel.name if r.wheel else (r.message or ""),
            f"{r.seconds:.0f}",
        )
    console.print(table)
    return 1 if any(r.outcome == Outcome.FAILED for r in results) else 0
