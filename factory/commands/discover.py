"""`factory discover`: read torch's releases and the hosted packages' sdists from PyPI, show what changed.

Exit codes: 0 nothing changed; 3 a table is out of date: the knowledge table (factory/data/pytorch.toml)
or the releases table (factory/data/releases.toml: a new release, a changed sdist or Requires-Python).
A scheduled job runs it and acts on a non-zero code. `--write-releases` rewrites the releases table from
PyPI, downloading the (small) sdists it has not inspected yet to see whether they hold CUDA sources;
`--write-knowledge` writes the knowledge table with PyPI's facts applied (a new torch release, a new minor
with PyPI's own CUDA variant): the rebuild workflow plans with both, so a week's news reaches its plan.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

import httpx
from packaging.utils import NormalizedName
from rich.console import Console
from rich.table import Table

from factory.discover.diff import (
    Discovery,
    compare,
    python_span,
    release_differences,
    releases_from_pypi,
    tuple_changes,
    updated_knowledge,
)
from factory.discover.pypi import PYPI, PyPI
from factory.discover.torch_facts import TorchFacts, cuda_from_metadata, torch_releases
from factory.plan.knowledge import Knowledge, load_knowledge, render_knowledge
from factory.plan.matrix import MatrixConfig, load_matrix
from factory.plan.recipes import Recipe, load_recipes
from factory.plan.releases import ReleaseTable, has_cuda_sources, load_releases, render_releases


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "discover",
        help="compare PyPI's torch releases and the hosted packages' sdists with the knowledge table",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--matrix", type=Path, default=Path("matrix.toml"), help="matrix file (default: ./matrix.toml)")
    p.add_argument("--knowledge", type=Path, default=None, help="knowledge table (default: the packaged one)")
    p.add_argument("--recipes", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--releases", type=Path, default=None, help="releases table (default: the packaged one)")
    p.add_argument(
        "--write-releases",
        type=Path,
        nargs="?",
        const=Path("factory/data/releases.toml"),
        default=None,
        metavar="PATH",
        help="write the releases table as PyPI lists it now (default PATH: factory/data/releases.toml)",
    )
    p.add_argument(
        "--write-knowledge",
        type=Path,
        default=None,
        metavar="PATH",
        help="write the knowledge table with PyPI's facts applied (for a plan that must see them)",
    )
    p.add_argument(
        "--pypi-url",
        default=os.environ.get("FACTORY_PYPI_URL") or PYPI,
        help=f"PyPI, or a mirror serving its JSON API (default: $FACTORY_PYPI_URL or {PYPI})",
    )
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per HTTP request (default: 60)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, http: httpx.Client | None = None) -> int:
    matrix = load_matrix(args.matrix)
    knowledge = load_knowledge(args.knowledge)
    client = http or httpx.Client(timeout=args.timeout, headers={"User-Agent": "cuda-wheel-factory discover"})
    with client:
        pypi = PyPI(client, args.pypi_url)
        found = discover(pypi, matrix, knowledge, load_recipes(args.recipes), load_releases(args.releases))
        if args.write_releases is not None:
            complete = inspect_sdists(pypi, found.releases)
            args.write_releases.write_text(render_releases(complete))
        if args.write_knowledge is not None:
            args.write_knowledge.write_text(render_knowledge(updated_knowledge(knowledge, found.facts)))
    if args.json:
        print(json.dumps(found.to_json(), indent=1))
    else:
        render(found, pypi, Console())
    for written in (args.write_releases, args.write_knowledge):
        if written is not None:
            print(f"wrote {written}", file=sys.stderr)
    return found.exit_code


def discover(
    pypi: PyPI,
    matrix: MatrixConfig,
    knowledge: Knowledge,
    recipes: dict[NormalizedName, Recipe],
    table: ReleaseTable,
) -> Discovery:
    """Fetch what the comparison needs: torch's releases, one METADATA per minor, the packages' sdists."""
    oldest = next(iter(knowledge.minors))
    facts: dict[str, TorchFacts] = {}
    for minor, release in torch_releases(pypi.releases("torch"), since=oldest, tag_floors=knowledge.tag_floors).items():
        metadata = pypi.wheel_metadata(release.probe)
        cuda, evidence = cuda_from_metadata(metadata.text, release.probe_python)
        facts[minor] = TorchFacts(release=release, pypi_cuda=cuda, evidence=evidence, via=metadata.via)
    fresh = {e.name: releases_from_pypi(e.name, pypi.releases(e.name), table.get(e.name, ())) for e in matrix.packages}
    return Discovery(
        facts=facts,
        differences=compare(knowledge, facts),
        release_differences=release_differences(table, fresh),
        releases=fresh,
        planned={e.name: [r.version for r in e.policy.select(e.name, fresh[e.name])] for e in matrix.packages},
        changes=tuple_changes(matrix, knowledge, updated_knowledge(knowledge, facts), recipes, table, fresh),
    )


def inspect_sdists(pypi: PyPI, table: ReleaseTable) -> ReleaseTable:
    """The table with `cuda_sources` filled in: each sdist not inspected yet is downloaded (checked against
    its sha256) and its file list read."""
    out: ReleaseTable = {}
    for package, rows in table.items():
        pending = [r for r in rows if r.cuda_sources is None]
        files = pypi.releases(package) if pending else {}
        done = []
        for release in rows:
            if release.cuda_sources is None:
                sdist = next(f for f in files.get(release.version, ()) if f.filename == release.sdist)
                release = dataclasses.replace(
                    release, cuda_sources=has_cuda_sources(sdist.filename, pypi.download(sdist))
                )
            done.append(release)
        out[package] = tuple(done)
    return out


def render(found: Discovery, pypi: PyPI, console: Console) -> None:
    facts = Table(title="torch on PyPI (newest release per minor, manylinux x86_64)")
    for column in ("torch", "release", "CUDA of PyPI's wheel", "CPython", "floor", "METADATA via"):
        facts.add_column(column)
    for minor, f in found.facts.items():
        cuda = "none" if f.pypi_cuda is None else str(f.pypi_cuda)
        rel = f.release
        facts.add_row(minor, str(rel.version), cuda, python_span(rel.pythons), rel.glibc_floor, f.via)
    console.print(facts)
    console.print(f"[dim]{pypi.requests} requests, {pypi.bytes_read / 1e6:.1f} MB of wheel data read[/dim]")
    if found.differences:
        diff = Table(title="pytorch.toml differs from PyPI")
        for column in ("torch", "field", "table", "PyPI", "note"):
            diff.add_column(column)
        for d in found.differences:
            diff.add_row(d.minor, d.field, d.table or "—", d.pypi or "—", d.note)
        console.print(diff)
    else:
        console.print("[green]pytorch.toml agrees with PyPI[/green]")
    for name, rows in found.releases.items():
        planned = ", ".join(str(v) for v in found.planned.get(name, []))
        news = [d for d in found.release_differences if d.package == name]
        if news:
            console.print(f"[yellow]{name}: PyPI differs from releases.toml[/yellow] (matrix.toml plans {planned})")
            for rd in news:
                console.print(f"  {rd.version}: {rd.field}: {rd.table or '—'} → {rd.pypi or '—'} ({rd.note})")
        else:
            console.print(f"{name}: releases.toml lists PyPI's {len(rows)} releases; matrix.toml plans {planned}")
    changes = found.changes
    console.print(
        f"the full matrix with these changes: {len(changes.added)} tuples added, "
        f"{len(changes.removed)} removed, {len(changes.rebuilt)} rebuilt against a new torch release"
    )
    for label, specs in (
        ("added", changes.added),
        ("removed", changes.removed),
        ("rebuilt", changes.rebuilt),
    ):
        if specs:
            shown = ", ".join(s.id for s in specs[:6]) + (f", … (+{len(specs) - 6})" if len(specs) > 6 else "")
            console.print(f"  {label}: {shown}")
    verdict = {0: "[green]up to date[/green]", 3: "[red]pytorch.toml or releases.toml out of date[/red]"}
    console.print(verdict[found.exit_code])
