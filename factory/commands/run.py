"""`factory run`: the main job — plan, build what is not yet published, publish, report."""

from __future__ import annotations

import argparse
import fnmatch
import os
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from factory.commands.common import (
    add_build_options,
    add_selection_options,
    add_wanted_option,
    context_from_args,
    plan_from_args,
    selected_plan,
    wanted_of,
)
from factory.context import BuildContext
from factory.plan.expand import Dropped
from factory.plan.job import Job, resolve
from factory.plan.spec import BuildSpec
from factory.run.matrix_run import default_jobs, run_matrix
from factory.run.pipeline import TupleResult, build_tuple, compute_input_key
from factory.run.progress import RichProgress, summary_table
from factory.run.publish import IndexPublisher
from factory.stages.records import write_json_atomic
from factory.stages.repair_plan import retag_build


class PipelineBuilder:
    """factory.run.matrix_run.Builder over the real stages: each spec resolved once into its job; its input key
    computed from declared inputs (nothing provisioned or fetched for a tuple already published)."""

    def __init__(self, ctx: BuildContext, work: Path) -> None:
        self.ctx, self.work = ctx, work
        self._jobs: dict[str, Job] = {}

    def _job(self, spec: BuildSpec) -> Job:
        if spec.id not in self._jobs:
            self._jobs[spec.id] = resolve(spec, self.ctx.recipes)
        return self._jobs[spec.id]

    def input_key(self, spec: BuildSpec) -> str:
        return compute_input_key(self._job(spec), self.ctx)  # StageFailed is a FactoryError

    def build(self, spec: BuildSpec, on_stage: Callable[[str], None], build: int) -> TupleResult:
        return build_tuple(self._job(spec), self.ctx, self.work, on_stage=on_stage, build=build)

    def retag(self, wheel: Path, build: int) -> Path:
        out = wheel.parent / f"build-{build}"
        out.mkdir(exist_ok=True)
        return retag_build(wheel, build, out)


def machine_jobs() -> int:
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return default_jobs(os.cpu_count() or 1, mem_gib)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="the main job: build every planned tuple not yet published, publish, report")
    add_selection_options(p)
    add_build_options(p)
    p.add_argument("--data", type=Path, default=Path("data"), help="the index to publish into (default: ./data)")
    p.add_argument("--work", type=Path, default=None, help="build records and logs (default: DATA/../work)")
    p.add_argument("--jobs", type=int, default=None, help="tuples built at once (default: sized from cores and memory)")
    add_wanted_option(
        p,
        "--wanted",
        "build only the tuples the index at this URL (or data directory) was asked for and has not served, most "
        "wanted first (see `factory plan --wanted`); --profile gives their build settings, --only filters them",
    )
    p.set_defaults(handler=run)


def wanted_specs(args: argparse.Namespace, console: Console) -> tuple[list[BuildSpec], list[Dropped]]:
    """The wanted tuples --only selects (most wanted first), and the plan's dropped combinations of their packages."""
    planned = plan_from_args(args)
    wanted = wanted_of(args, args.wanted, planned)
    for n in wanted.not_planned:
        console.print(f"[yellow]not buildable[/] ×{n.want.count} {n.want.key.project} {n.want.key.label}: {n.reason}")
    specs = [t.spec for t in wanted.include if fnmatch.fnmatch(t.spec.id, args.only)]
    for t in wanted.include:
        if t.spec in specs:
            console.print(f"wanted ×{t.count}: {t.spec.id}")
    packages = {s.package for s in specs}
    return specs, [d for d in planned.dropped if d.package in packages]


def run(args: argparse.Namespace) -> int:
    console = Console()
    specs, dropped = wanted_specs(args, console) if args.wanted else selected_plan(args)
    if not specs:
        console.print(f"nothing wanted to build on {args.wanted}")
        return 0
    jobs = args.jobs if args.jobs is not None else machine_jobs()
    ctx = context_from_args(args, tuple_jobs=jobs)
    data = args.data.resolve()
    work = (args.work or data.parent / "work").resolve()
    console.print(
        f"[bold]factory run[/bold]: {len(specs)} tuples, {jobs} at a time ({ctx.jobs} compile jobs each); "
        f"index {data}, logs {work}"
    )
    publisher = IndexPublisher(data)
    with RichProgress(console, total=len(specs)) as progress:
        report = run_matrix(
            specs, builder=PipelineBuilder(ctx, work), publisher=publisher, progress=progress, jobs=jobs,
            profile=args.profile, dropped=[d.to_json() for d in dropped],
        )  # fmt: skip
    write_json_atomic(work / "reports" / f"{report.run_id}.json", report.to_json())
    console.print(summary_table(report))
    for failed in report.failed:
        console.print(f"[red]failed[/] {failed.spec.id}: {failed.stage}: {failed.cause}: {failed.message}")
        console.print(f"       log: {work / failed.spec.id / 'build.log'}")
    console.print(f"report: {work / 'reports' / (report.run_id + '.json')} (also on the index's web page)")
    console.print(f"serve it: factory serve --data {data}")
    return 1 if report.failed else 0
