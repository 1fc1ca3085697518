"""`factory learn`: write what a `factory run` showed about compatibility into the compatibility table.

Each (package, release, torch minor, CUDA major) the run's report tried becomes one row: built, or not
built with the classified cause, the first error line and the run id. `factory plan` then drops the
pairs that did not build, with that reason. Failures that say nothing about the pair (no network, a
broken environment) are not learned.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from factory.errors import ConfigError
from factory.plan.compat import learn, load_compat, outcomes_from_report, render_compat

DEFAULT = Path("factory/data/compat.toml")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "learn",
        help="record a run report's build outcomes per (release, torch, CUDA) in the compatibility table",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--report", type=Path, required=True, help="a run report (the JSON `factory run` publishes)")
    p.add_argument("--compat", type=Path, default=DEFAULT, help=f"the table to update (default: {DEFAULT})")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        report = json.loads(args.report.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{args.report}: no such report; pass the run report's JSON file") from None
    except json.JSONDecodeError as bad:
        raise ConfigError(f"{args.report}: not JSON ({bad}); pass the run report's JSON file") from None
    outcomes = outcomes_from_report(report)
    table = learn(load_compat(args.compat), outcomes)
    tmp = args.compat.with_name(args.compat.name + ".tmp")
    tmp.write_text(render_compat(table))
    tmp.replace(args.compat)
    failed = sum(1 for o in outcomes if not o.builds)
    print(
        f"{args.compat}: learned {len(outcomes)} pairs from run {report['run_id']} "
        f"({len(outcomes) - failed} built, {failed} did not); {len(table)} rows in all"
    )
    return 0
