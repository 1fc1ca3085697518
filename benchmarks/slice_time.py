"""What a profile's slice cost to build, from the run reports `factory run` left in an index's data folder:
per torch minor, the tuples published and the seconds each took (provision to publish, as its run measured
them), the seconds spent on attempts that failed (which taught `compat.toml` to drop a pair), and the sums.

    python benchmarks/slice_time.py --data ~/factory-data/pypi-here [--profile pypi-here]

A tuple's seconds are those of the run that published it: where an earlier, interrupted run of the same
tuple left its device code in the compile cache, that run's time is in no report and the figure is low (the
line says "from cache?" when a tuple published in under two minutes). Prints figures only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from packaging.version import Version

QUICK = 120.0  # a tuple published faster than this compiled little or nothing itself


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the index's data folder (holds reports/)")
    parser.add_argument("--profile", default="pypi-here", help="only the runs of this profile")
    args = parser.parse_args()
    reports = sorted(args.data.glob("reports/*/report.json"))
    if not reports:
        print(f"no run reports under {args.data / 'reports'}: is --data the folder `factory run --data` used?")
        return 2
    published: dict[str, dict[str, float]] = defaultdict(dict)  # torch minor -> tuple id -> seconds
    failed: dict[str, float] = defaultdict(float)
    attempts: dict[str, int] = defaultdict(int)
    runs = 0
    for path in reports:
        report = json.loads(path.read_text())
        if report.get("profile") != args.profile:
            continue
        runs += 1
        for entry in report["tuples"]:
            minor, seconds = entry["spec"]["torch"], entry.get("seconds") or 0.0
            if entry["outcome"] == "published":
                published[minor][entry["id"]] = seconds
            elif entry["outcome"] == "failed":
                failed[minor] += seconds
                attempts[minor] += 1
    if not runs:
        print(f"no run of profile {args.profile!r} among {len(reports)} reports")
        return 2
    print(f"profile {args.profile}: {runs} runs under {args.data}")
    total_published = total_failed = 0.0
    for minor in sorted(set(published) | set(failed), key=Version):
        built = published[minor]
        quick = [t for t, s in built.items() if s < QUICK]
        seconds = sum(built.values())
        total_published += seconds
        total_failed += failed[minor]
        line = f"torch {minor:>5}: {len(built)} published in {seconds:6.0f} s"
        line += f"; {attempts[minor]} failed attempts {failed[minor]:5.0f} s" if attempts[minor] else ""
        line += f" (from cache?: {', '.join(quick)})" if quick else ""
        print(line)
    count = sum(len(b) for b in published.values())
    print(
        f"all: {count} tuples published in {total_published:.0f} s ({total_published / 3600:.1f} h), "
        f"failed attempts {total_failed:.0f} s; together {(total_published + total_failed) / 3600:.1f} h"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
