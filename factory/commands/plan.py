"""`factory plan`: show the tuples a matrix expands to, or emit them as a GitHub Actions matrix."""

from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from factory.ci.workflow import cells_of
from factory.commands.common import (
    add_matrix_options,
    add_wanted_option,
    default_cache,
    plan_from_args,
    sdist_overrides,
    wanted_of,
)
from factory.context import BuildContext
from factory.plan.expand import Plan
from factory.plan.job import resolve
from factory.plan.recipes import load_recipes
from factory.plan.wanted import WantedPlan
from factory.run.builds import PlannedBuilds, arch_list, plan_builds
from factory.run.index_builds import published_builds
from factory.run.pipeline import compute_input_key


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
    p.add_argument(
        "--index",
        default=None,
        metavar="URL",
        help="leave out tuples whose newest build on this index (its base, <base>/simple or <base>/cuN/simple) has "
        "their input key; give the rest a "
        '"build" number (also lists "unchanged" ids and "refused" ones with the reason)',
    )
    p.add_argument(
        "--sdist",
        action="append",
        default=[],
        metavar="PACKAGE=PATH",
        help="with --index: key PACKAGE by this local sdist instead of PyPI's (repeatable)",
    )
    wanted = p.add_mutually_exclusive_group()
    add_wanted_option(
        wanted,
        "--wanted",
        "plan only the tuples the index at this URL (or data directory) was asked for and has not served, most "
        "wanted first: from this plan where one of its tuples serves a want, else from the full matrix's knowledge "
        "with the profile's build settings; lists the wants it cannot build with the reason",
    )
    add_wanted_option(
        wanted,
        "--wanted-first",
        "the whole plan, with the tuples of it that the index's unserved wants need moved first (most wanted "
        "first); wants this plan cannot serve are listed, not added (the scheduled workflow's cells re-plan)",
    )
    p.set_defaults(handler=run)


def _with_wants(args: argparse.Namespace, result: Plan) -> tuple[Plan, WantedPlan | None]:
    source = args.wanted or args.wanted_first
    if source is None:
        return result, None
    wanted = wanted_of(args, source, result)
    ids = {s.id for s in result.include}
    if args.wanted:
        return Plan(include=[t.spec for t in wanted.include], dropped=result.dropped), wanted
    first = [t.spec for t in wanted.include if t.spec.id in ids]
    chosen = {s.id for s in first}
    return Plan(include=first + [s for s in result.include if s.id not in chosen], dropped=result.dropped), wanted


def _wanted_json(wanted: WantedPlan | None, planned: Plan) -> dict[str, object]:
    if wanted is None:
        return {}
    ids = {s.id for s in planned.include}
    body = wanted.to_json()
    body["wanted_outside"] = [w for w in body["wanted"] if w["id"] not in ids]
    body["wanted"] = [w for w in body["wanted"] if w["id"] in ids]
    return body


def render_wanted(wanted: WantedPlan | None, planned: Plan, console: Console) -> None:
    if wanted is None:
        return
    ids = {s.id for s in planned.include}
    for t in wanted.include:
        where = "planned" if t.spec.id in ids else "[yellow]outside this plan[/] (factory run --wanted builds it)"
        console.print(f"wanted ×{t.count}: {t.spec.id} — {where}")
    for n in wanted.not_planned:
        console.print(f"[red]not buildable[/] ×{n.want.count}: {n.want.key.project} {n.want.key.label}: {n.reason}")
    if not wanted.include and not wanted.not_planned:
        console.print("no unserved wants on that index")


def run(args: argparse.Namespace) -> int:
    result, wanted = _with_wants(args, plan_from_args(args))
    if args.index is None:
        if args.json:
            data = {**result.to_json(), **_wanted_json(wanted, result)}
            if args.cells:
                data["cells"] = [c.to_json() for c in cells_of(result.include)]
            print(json.dumps(data, indent=None, separators=(",", ":")))
        else:
            console = Console()
            render(result, console, show_dropped=args.dropped)
            render_wanted(wanted, result, console)
        return 0
    planned = against_index(args, result)
    todo = [s for s in result.include if s.id in planned.builds]
    if args.json:
        body = result.to_json()
        body["include"] = [{**s.to_json(), "build": planned.builds[s.id]} for s in todo]
        body["unchanged"] = planned.unchanged
        body["refused"] = [{"id": i, "reason": r} for i, r in planned.refused.items()]
        if args.cells:
            body["cells"] = [c.to_json() for c in cells_of(todo)]
        body.update(_wanted_json(wanted, result))
        print(json.dumps(body, indent=None, separators=(",", ":")))
        return 0
    console = Console()
    render(Plan(include=todo, dropped=result.dropped), console, show_dropped=args.dropped)
    render_wanted(wanted, result, console)
    console.print(f"{len(planned.unchanged)} tuples up to date on {args.index}")
    for ident, reason in planned.refused.items():
        console.print(f"[red]refused[/] {ident}: {reason}")
    return 0


def against_index(args: argparse.Namespace, result: Plan) -> PlannedBuilds:
    """Each planned tuple's input key (declared inputs only) against the builds the index published."""
    env = dict(os.environ)
    recipes = load_recipes(args.recipes)
    ctx = BuildContext(
        cache=default_cache(env), uv=Path("uv"), recipes=recipes, base_env=env,
        sdist_overrides=sdist_overrides(args.sdist),
    )  # fmt: skip
    keys = {}
    with httpx.Client(timeout=60) as http:
        for spec in result.include:
            job = resolve(spec, recipes)
            keys[spec.id] = (compute_input_key(job, ctx, http), arch_list(spec.to_json()))
        published = published_builds(
            args.index,
            [str(s.package) for s in result.include],
            [s.cuda_major for s in result.include],
            http,
        )
    return plan_builds(keys, published)


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
