"""The per-arch cost of device code, measured (figures, no asserts): one source file's nvcc command, taken
from a factory build log, replayed without ccache for sm_90 alone and for a list of archs.

    python benchmarks/arch_factor.py BUILD_LOG SOURCE.cu [ARCH ...]   (default archs: upstream's 9 for CUDA 13)

BUILD_LOG is a tuple's build.log from `factory run` / `factory build` (its source tree must still be in
the factory's cache). Prints CPU seconds (user + sys of nvcc and its children), wall seconds and object
size per variant, and the factor per arch past the first. Used for the runner-hours figure in the README.
"""

from __future__ import annotations

import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CUDA13_ARCHS = ("75", "80", "87", "90", "100", "120", "103", "110", "121")


def nvcc_command(log: Path, source: str) -> list[str]:
    """The logged nvcc command that compiles `source`, less ccache, depfile, output and -gencode flags."""
    for line in log.read_text(errors="replace").splitlines():
        if "nvcc" in line and f"/{source} " in line and " -c " in line:
            argv = shlex.split(line.split("] ", 1)[1] if line.startswith("[") else line)
            argv = argv[1:] if argv[0].endswith("ccache") else argv
            out, skip = [], 0
            for arg in argv:
                if skip:
                    skip -= 1
                elif arg in ("-MF", "-o", "-gencode"):
                    skip = 1
                elif arg != "-MD":
                    out.append(arg)
            return out
    raise SystemExit(f"{log}: no nvcc command compiles {source}; give a build.log of a CUDA tuple and a .cu name")


def timed(argv: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"nvcc failed ({done.returncode}): {done.stderr[-2000:]}")
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, wall


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    log, source, archs = Path(sys.argv[1]), sys.argv[2], tuple(sys.argv[3:]) or CUDA13_ARCHS
    base = nvcc_command(log, source)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, selected in (("sm_90", ("90",)), (f"{len(archs)} archs", archs)):
            gencode = [f for a in selected for f in ("-gencode", f"arch=compute_{a},code=sm_{a}")]
            obj = Path(tmp) / "out.o"
            cpu, wall = timed([*base, *gencode, "-o", str(obj)])
            rows.append((name, len(selected), cpu, wall, obj.stat().st_size))
            print(f"{source} {name}: cpu {cpu:.1f} s, wall {wall:.1f} s, object {obj.stat().st_size} bytes")
    (_, n1, c1, _, _), (_, n, cn, _, _) = rows
    print(f"factor {cn / c1:.2f}x for {n} archs; each arch past the first {(cn / c1 - 1) / (n - n1):.2f}x of sm_90's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
