"""Installs the factory's wheels as a user would, one line per torch: a fresh venv holding PyPI's torch,
then `pip install causal-conv1d mamba-ssm --index-url <factory>/simple` (prebuilt only: --only-binary for the
two, so nothing can compile), then both extension modules and both packages imported with verify's import:
every symbol bound at load, and where triton 3.2/3.3 asks for a GPU driver at import and this machine has
none, its driver stood in for the import only (said on the line).

    python benchmarks/install_check.py --index http://127.0.0.1:8000/simple 2.5.1=3.10 2.8.0=3.12 ...

Venvs are made by uv from the factory's shared package cache (hard links); pip runs with no configuration
file, so only the factory's index answers (its pass-through serves the dependencies). Prints figures and
outcomes; exit 1 when any torch failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote

from packaging.utils import canonicalize_name

from factory.stages.verify import import_beside_triton, import_snippet

PACKAGES = ("causal-conv1d", "mamba-ssm")
EXTENSIONS = ("causal_conv1d_cuda", "selective_scan_cuda")
TOP_LEVELS = ("causal_conv1d", "mamba_ssm")


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True)


def check(index: str, torch: str, python: str, work: Path, uv: str) -> tuple[bool, str]:
    venv = work / f"torch{torch}-py{python}"
    env = {**os.environ, "UV_LINK_MODE": "hardlink", "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INPUT": "1"}
    env["UV_PYTHON_DOWNLOADS"] = "never"  # an interpreter of this machine (pyenv's), never a download
    pyenv = sorted(Path(env.get("PYENV_ROOT", Path.home() / ".pyenv")).glob(f"versions/{python}.*/bin/python{python}"))
    interpreter = str(pyenv[-1]) if pyenv else python
    env["UV_CACHE_DIR"] = str(Path(env.get("FACTORY_CACHE", Path.home() / ".cache/cuda-wheel-factory")) / "uv")
    env.pop("PIP_CONSTRAINT", None)
    steps = [
        [uv, "venv", "--quiet", "--seed", "--python", interpreter, str(venv)],
        [uv, "pip", "install", "--quiet", "--python", str(venv / "bin/python"), f"torch=={torch}"],
    ]
    for argv in steps:
        done = run(argv, env)
        if done.returncode:
            return False, f"{' '.join(argv[:3])}: {done.stderr.strip().splitlines()[-1:]}"
    report = venv / "report.json"
    began = time.monotonic()
    argv = [str(venv / "bin/pip"), "install", "--quiet", *PACKAGES, "--index-url", index]
    argv += ["--only-binary", ",".join(PACKAGES), "--report", str(report)]
    done = run(argv, env)
    seconds = time.monotonic() - began
    if done.returncode:
        return False, f"pip install failed after {seconds:.0f} s: {done.stderr.strip()[-600:]}"
    installed = json.loads(report.read_text())["install"]
    named = [(canonicalize_name(i["metadata"]["name"]), i) for i in installed]
    wheels = [unquote(Path(item["download_info"]["url"]).name) for name, item in named if name in PACKAGES]
    touched_torch = [item["metadata"]["version"] for name, item in named if name == "torch"]
    python_bin = str(venv / "bin/python")
    done = run([python_bin, "-c", import_snippet(EXTENSIONS)], env)
    stood_in = False
    if not done.returncode:
        done, stood_in = import_beside_triton(
            lambda snippet: run([python_bin, "-c", snippet], env),
            lambda ran: ran.stderr if ran.returncode else "",
            TOP_LEVELS,
        )
    if done.returncode:
        return False, f"installed {wheels} but the imports failed: {done.stderr.strip()[-600:]}"
    note = f"; pip replaced torch with {touched_torch}" if touched_torch else ""
    said = done.stdout.strip().splitlines()[-1].removeprefix("imported ") + (" (no GPU here)" if stood_in else "")
    return (
        not touched_torch,
        f"pip {seconds:.0f} s, {' + '.join(wheels)}; extensions imported, then {said}{note}",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True, help="the factory's /simple URL (or a channel's)")
    parser.add_argument("pairs", nargs="+", metavar="TORCH=PYTHON", help="e.g. 2.5.1=3.10")
    args = parser.parse_args()
    uv = str(Path(sys.executable).parent / "uv")
    failed = 0
    with tempfile.TemporaryDirectory(prefix="install-check-") as tmp:
        for pair in args.pairs:
            torch, _, python = pair.partition("=")
            ok, line = check(args.index, torch, python, Path(tmp), uv)
            failed += not ok
            print(f"torch {torch} cp{python.replace('.', '')}: {'ok' if ok else 'FAILED'}: {line}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
