"""`factory workflow` actions a cell's job runs on the runner itself (registered by commands/workflow.py).

factory workflow build-cell --cell ID ...   every planned Python in its own cibuildwheel run, each published
factory workflow index-url [--profile P]    the index this run plans against and publishes to
factory workflow publish --index URL WHEEL  wheels uploaded with retries (a 409 for identical bytes is success)
factory workflow disk LABEL [--df P] [--du P] one line: free space and folder sizes
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import httpx

from factory.ci.workflow import PRODUCTION_INDEX, PROFILE_INDEX, Cell, index_for
from factory.errors import ConfigError, FactoryError
from factory.process import SubprocessRunner
from factory.run.cell_job import CellJob, report, run_cell_job
from factory.run.disk import disk_line
from factory.run.index_builds import index_base
from factory.run.upload import Uploader

TOKEN = "FACTORY_UPLOAD_TOKEN"
# Never handed to cibuildwheel (nor so to the container, where upstream's setup.py runs)
_SECRET = re.compile(r"TOKEN|SECRET|PASSWORD|^FACTORY_(PROFILE_)?INDEX_URL$")


def add_build_cell_options(build: argparse.ArgumentParser) -> None:
    """build-cell's own options (commands/workflow.py adds the cell's: matrix, --cell, --builds)."""
    build.add_argument("--package-dir", type=Path, required=True, help="the unpacked, patched sdist")
    build.add_argument("--output-dir", type=Path, default=Path("wheelhouse"), help="wheels, per Python")
    build.add_argument("--logs", type=Path, default=Path("work/logs"), help="one cibuildwheel log per Python")
    build.add_argument("--unpublished", type=Path, default=None, help="where wheels built but not published go")
    build.add_argument("--job-started", type=float, required=True, metavar="EPOCH", help="when the job started")
    build.add_argument(
        "--time-limit-minutes", type=float, required=True, help="builds end this long after --job-started"
    )
    build.add_argument("--df", type=Path, action="append", default=[], help="a file system to log the free space of")
    build.add_argument("--summary", type=Path, default=None, help="append the report here ($GITHUB_STEP_SUMMARY)")


def register(actions: argparse._SubParsersAction) -> None:
    index = actions.add_parser("index-url", help=f"print the index of this run ({PRODUCTION_INDEX}, {PROFILE_INDEX})")
    index.add_argument("--profile", default=None, help="the run's profile (empty: the full matrix)")
    index.set_defaults(handler=run_index_url)

    publish = actions.add_parser("publish", help=f"upload wheels with retries (token: ${TOKEN})")
    publish.add_argument("--index", required=True, metavar="URL", help="the index (its base or <base>/simple)")
    publish.add_argument("wheels", type=Path, nargs="+")
    publish.set_defaults(handler=run_publish)

    disk = actions.add_parser("disk", help="print free space and folder sizes as one log line")
    disk.add_argument("label")
    disk.add_argument("--df", type=Path, action="append", default=[], help="a file system's free space")
    disk.add_argument("--du", type=Path, action="append", default=[], help="a folder's size")
    disk.set_defaults(handler=lambda a: print(disk_line(a.label, a.df, a.du)) or 0)


def _uploader(index_url: str, http: httpx.Client) -> Uploader:
    token = os.environ.get(TOKEN, "")
    if not token:
        raise ConfigError(f"${TOKEN} is not set: the index needs an upload token to publish")
    return Uploader(index_base(index_url, http), token, http)


def run_build_cell(args: argparse.Namespace, cell: Cell) -> int:
    index_url, why = index_for(args.profile, os.environ)
    print(f"publishing to: {why}")
    env = {k: v for k, v in os.environ.items() if not _SECRET.search(k)}
    job = CellJob(
        cell=cell, package_dir=args.package_dir, output_dir=args.output_dir, logs=args.logs,
        deadline=args.job_started + args.time_limit_minutes * 60, env=env, unpublished=args.unpublished,
        df=tuple(args.df) or (Path("/"),),
    )  # fmt: skip
    with httpx.Client(timeout=httpx.Timeout(120, connect=30)) as http:
        publisher = _uploader(index_url, http) if index_url else None
        runs = run_cell_job(job, SubprocessRunner(), publisher, clock=time.time)
    table, errors = report(cell.id, runs)
    print(table)
    for line in errors:
        print(line)
    if args.summary is not None:
        with args.summary.open("a") as out:
            out.write(table + "\n")
    return 1 if errors else 0


def run_index_url(args: argparse.Namespace) -> int:
    url, why = index_for(args.profile, os.environ)
    print(why, file=sys.stderr)
    print(url or "")
    return 0


def run_publish(args: argparse.Namespace) -> int:
    """Every wheel tried; any not published fails the command, after the others."""
    failed = []
    with httpx.Client(timeout=httpx.Timeout(120, connect=30)) as http:
        uploader = _uploader(args.index, http)
        for wheel in args.wheels:
            try:
                print(f"{wheel.name}: {uploader.upload(wheel).answer}")
            except FactoryError as err:
                print(f"::error::{err}")
                failed.append(wheel.name)
    print(f"{len(args.wheels)} wheels, {len(failed)} not published")
    return 1 if failed else 0
