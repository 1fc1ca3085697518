"""The benchmark suite: every comparison side by side in one run, written to BENCHMARKS.md.

    .venv/bin/python benchmarks/run_all.py                      # everything (the heavy parts take long)
    .venv/bin/python benchmarks/run_all.py --only pages,download --duration 2s   # a quick look

Sections (`--only` takes a comma list; the other sections of an existing --out file are kept, each marked
with the run it is from): pages, peers, download (index speed; installs wrk and nginx-light
with apt-get when missing, pypiserver and devpi-server into venvs under the work folder), resolution
(bytes a resolver downloads with PEP 658), wheel-size, upstream-stall (hosted pages while 60 requests wait on
a silent upstream), zip-rss (server memory refusing a 1.5 M-entry zip directory), and the heavy ones: install
(user install vs source builds, minutes of both cores), python-reuse (a second Python's build cost), rerun
(`factory run` again with nothing changed), arch-cost (sm_80 + sm_90 + PTX against sm_90 alone: four real
builds). Run it on an idle machine: anything else running skews every figure. Prints figures; never
asserts a time.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_catalog import build_catalog
from bench_report import Section, busy_warning, kept_sections, machine, render
from bench_tools import REPO, WRK_SUMMARY_LUA, ensure_debian

QUICK = ("pages", "peers", "download", "resolution", "wheel-size", "upstream-stall", "zip-rss")
HEAVY = ("install", "python-reuse", "rerun", "arch-cost")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(QUICK + HEAVY), help="comma list of sections (default: all)")
    parser.add_argument("--duration", default="10s", help="wrk duration per measurement (default 10s)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections for pages (default 8)")
    parser.add_argument("--work", type=Path, default=REPO / ".bench", help="work folder (kept between runs)")
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    parser.add_argument(
        "--real-data",
        type=Path,
        default=REPO / "data",
        help="an index data folder with the quick profile's real wheels, as `make quick` leaves it (read only; "
        "default ./data)",
    )
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "cuda-wheel-factory")
    return parser


def main() -> int:
    args = _parser().parse_args()
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(QUICK + HEAVY))
    if unknown:
        print(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(QUICK + HEAVY)}", file=sys.stderr)
        return 2
    started = datetime.now(UTC)
    at_start, warning = machine(), busy_warning()
    args.work.mkdir(parents=True, exist_ok=True)
    lua = args.work / "summary.lua"
    lua.write_text(WRK_SUMMARY_LUA)
    sections: list[Section] = []
    for name in wanted:
        print(f"== {name}", flush=True)
        try:
            sections.append(_section(name, args, lua)())
        except Exception as err:  # a failed section is reported in the file, the others still run
            traceback.print_exc()
            sections.append(Section(title=f"{name}: FAILED", summary=f"`{type(err).__name__}`: {err}", header=()))
    command = "python benchmarks/run_all.py " + " ".join(sys.argv[1:])
    text = render(sections, command.strip(), started, at_start, warning)
    if args.out.exists() and set(wanted) != set(QUICK + HEAVY):  # a partial run keeps the other figures
        text = "\n".join([text.rstrip() + "\n", *kept_sections(args.out.read_text(), {s.title for s in sections})])
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


def _section(name: str, args: argparse.Namespace, lua: Path) -> Callable[[], Section]:
    from factory.plan.knowledge import load_knowledge

    if name in ("pages", "peers", "download"):
        import index_bench

        ensure_debian({"wrk": "wrk", "nginx": "nginx-light"})
        opts = index_bench.Options(work=args.work, duration=args.duration, connections=args.connections, lua=lua)
        catalog = build_catalog(args.work, load_knowledge().pypi_cuda_major())
        run: dict[str, Callable[[], Section]] = {
            "pages": lambda: index_bench.pages(catalog, opts),
            "peers": lambda: index_bench.peers(catalog, opts),
            "download": lambda: index_bench.download(catalog, opts),
        }
        return run[name]
    import client_bench
    import factory_bench
    import script_bench

    env = {**os.environ, "FACTORY_CACHE": str(args.cache)}
    return {
        "resolution": lambda: client_bench.resolution(args.work),
        "install": lambda: client_bench.user_install(args.work, args.real_data, args.cache),
        "wheel-size": lambda: factory_bench.wheel_size(args.real_data),
        "python-reuse": lambda: factory_bench.python_reuse(env),
        "rerun": lambda: factory_bench.rerun(args.work, args.real_data, env),
        "upstream-stall": script_bench.upstream_stall,
        "zip-rss": script_bench.zip_rss,
        "arch-cost": lambda: script_bench.arch_cost(env),
    }[name]


if __name__ == "__main__":
    sys.exit(main())
