"""`factory discover`: read torch's releases and the hosted packages' sdists from PyPI, show what changed.

Exit codes: 0 nothing changed; 3 the knowledge table (factory/data/pytorch.toml) is out of date;
4 the table is current but a hosted package has a newer sdist than matrix.toml lists. A scheduled job
runs it and acts on a non-zero code.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import httpx
from packaging.utils import NormalizedName
from rich.console import Console
from rich.table import Table

from factory.discover import (
    Discovery,
    compare,
    new_sdists,
    python_span,
    tuple_changes,
    updated_knowledge,
)
from factory.knowledge import Knowledge, load_knowledge
from factory.matrix import MatrixConfig, load_matrix
from factory.pypi import PYPI, PyPI
from factory.recipes import Recipe, load_recipes
from factory.torch_facts import TorchFacts, cuda_from_metadata, torch_releases


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
    p.add_argument("--pypi-url", default=PYPI, help=f"PyPI, or a mirror serving its JSON API (default: {PYPI})")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per HTTP request (default: 60)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, http: httpx.Client | None = None) -> int:
    matrix = load_matrix(args.matrix)
    knowledge = load_knowledge(args.knowledge)
    client = http or httpx.Client(timeout=args.timeout, headers={"User-Agent": "cuda-wheel-factory discover"})
    with client:
        pypi = PyPI(client, args.pypi_url)
        found = discover(pypi, matrix, knowledge, load_recipes(args.recipes))
    if args.json:
        print(json.dumps(found.to_json(), indent=1))
    else:
        render(found, pypi, Console())
    return found.exit_code


def discover(
    pypi: PyPI, matrix: MatrixConfig, knowledge: Knowledge, recipes: dict[NormalizedName, Recipe]
) -> Discovery:
    """Fetch what the comparison needs: torch's releases, one METADATA per minor, the packages' sdists."""
    oldest = next(iter(knowledge.minors))
    facts: dict[str, TorchFacts] = {}
    for minor, release in torch_releases(pypi.releases("torch"), since=oldest, tag_floors=knowledge.tag_floors).items():
        metadata = pypi.wheel_metadata(release.probe)
        cuda, evidence = cuda_from_metadata(metadata.text, release.probe_python)
        facts[minor] = TorchFacts(release=release, pypi_cuda=cuda, evidence=evidence, via=metadata.via)
    releases = {entry.name: pypi.releases(entry.name) for entry in matrix.packages}
    sdists = new_sdists(matrix, releases)
    return Discovery(
        facts=facts,
        differences=compare(knowledge, facts),
        listed={e.name: list(e.versions) for e in matrix.packages},
        sdists=sdists,
        changes=tuple_changes(matrix, knowledge, updated_knowledge(knowledge, facts), recipes, sdists),
    )


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
    for name, new in found.sdists.items():
        listed = ", ".join(str(v) for v in found.listed.get(name, []))
        if new:
            console.print(
                f"[yellow]{name}: new sdists {', '.join(map(str, new))}[/yellow] (matrix.toml lists {listed})"
            )
        else:
            console.print(f"{name}: no sdist newer than {listed}")
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
    verdict = {0: "[green]up to date[/green]", 3: "[red]knowledge table out of date[/red]"}
    console.print(verdict.get(found.exit_code, "[yellow]matrix.toml lags PyPI's sdists[/yellow]"))
