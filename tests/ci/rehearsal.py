"""The rehearsal of one cell's job of build-cells.yml: the steps as written, run with bash, cibuildwheel's
part by tests/ci/cibuildwheel_standin.py, and the checks a cell's job must pass (each raises an
AssertionError naming what went wrong). tests/ci/test_rehearsal.py runs it as written and
tests/ci/test_rehearsal_controls.py with each blocker of the review put back; their docstrings say what
is substituted and what is not run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from ci_checkout import checkout_copy
from ci_index import TOKEN

from factory.commands.common import _pip_extra_indexes
from factory.run.disk import parse_du

ROOT = Path(__file__).parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "tiny_ext"
STANDIN = Path(__file__).with_name("cibuildwheel_standin.py")
BIN = Path(sys.executable).parent
PYTHONS = ("cp311", "cp312")
STAGES = ("before-build", "build", "repair", "before-test", "install", "test")
TORCH_INSTALL = r'pip install "\$FACTORY_TORCH_REQUIREMENT" --extra-index-url "\$FACTORY_TORCH_INDEX"'
JSON = "application/vnd.pypi.simple.v1+json"


@dataclass(frozen=True)
class Cell:
    """A cell of the tiny fixture's plan that the rehearsal runs: its matrix file and profile, and the
    (CUDA, torch, ABI) that name its tuples, wheels and channel."""

    matrix: Path
    profile: str
    cuda: str  # the toolkit, as the image has it under /usr/local/cuda-X.Y
    torch: str  # the torch minor
    abi: int
    recipes: Path = FIXTURE / "recipes.toml"

    @property
    def id(self) -> str:
        return f"tiny-ext-0.1.0-cu{self.cuda}-torch{self.torch}-abi{self.abi}"

    def tuple(self, py: str) -> str:
        return f"tiny-ext-0.1.0-cu{self.cuda}-torch{self.torch}-{py}-abi{self.abi}"

    @property
    def label(self) -> str:
        return f"cu.{self.cuda}.torch.{self.torch}.abi.{self.abi}"

    @property
    def channel(self) -> str:
        return f"cu{self.cuda.split('.')[0]}"

    @property
    def fixture_args(self) -> str:
        return f"--matrix {self.matrix} --recipes {self.recipes} --releases {FIXTURE / 'releases.toml'}"


CU13 = Cell(matrix=FIXTURE / "matrix.toml", profile="rehearsal", cuda="13.0", torch="2.14", abi=1)
# PyPI's torch 2.5.1 is the CUDA 12.4 build: the toolkit the factory assembles from Debian's archive
CU12 = Cell(matrix=FIXTURE / "matrix_cu12.toml", profile="rehearsal-cu12", cuda="12.4", torch="2.5", abi=0,
            recipes=FIXTURE / "recipes_cu12.toml")  # fmt: skip
CELL, TUPLE = CU13.id, CU13.tuple("{py}")
BUILDS = {CU13.tuple("cp311"): 3, CU13.tuple("cp312"): 1}  # cp312 is new to the cell: build 1
BUILDS_CU12 = {CU12.tuple("cp311"): 1, CU12.tuple("cp312"): 1}


def factory_cache() -> Path:
    return Path(os.environ.get("FACTORY_CACHE") or Path.home() / ".cache" / "cuda-wheel-factory")


def uv() -> str:
    import shutil

    return shutil.which("uv", path=f"{BIN}:{os.environ['PATH']}") or "uv"


@dataclass(frozen=True)
class Machine:
    # the factory's toolkits (CUDA 13 from PyPI, 12.4 from Debian's archive) by CUDA version, each standing
    # for the image's /usr/local/cuda-X.Y
    toolkits: dict[str, Path]
    pythons: dict[str, str]  # the CPythons standing for the image's /opt/python/cpXY-cpXY


@dataclass
class Result:
    rc: int  # the build step's exit code
    output: str  # everything the job's steps printed
    tmp: Path
    index: str
    pythons: tuple[str, ...]
    cell: Cell
    builds: dict[str, int]

    def records(self) -> list[dict[str, Any]]:
        path = self.tmp / "container-commands.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


class Job:
    """One cell's job of build-cells.yml, its steps read from `doc` and run in order."""

    def __init__(
        self, doc: dict[str, Any], tmp: Path, machine: Machine, index: str, builds: dict[str, int], cell: Cell = CU13
    ) -> None:
        self.doc, self.tmp, self.machine, self.index, self.builds, self.cell = doc, tmp, machine, index, builds, cell
        self.workspace = tmp / "workspace"
        self.bin = tmp / "bin"
        self.log = tmp / "rehearsal.log"
        self.env_file, self.summary = tmp / "github_env", tmp / "step_summary"

    def expressions(self) -> dict[str, str]:
        return {
            "inputs.profile": self.cell.profile,
            "matrix.id": self.cell.id,
            "toJSON(matrix.builds)": json.dumps(self.builds, indent=2),
            "matrix.package": "tiny-ext",
            "matrix.version": "0.1.0",
            # the production index is a port nothing listens on: a profile's run must never reach it
            "secrets.FACTORY_INDEX_URL": "http://127.0.0.1:9",
            "secrets.FACTORY_PROFILE_INDEX_URL": f"{self.index}/simple",  # the URL pip is given
            "secrets.FACTORY_UPLOAD_TOKEN": TOKEN,
        }

    def step_env(self, step: dict[str, Any]) -> dict[str, str]:
        out = {}
        for key, value in (step.get("env") or {}).items():
            text = str(value)
            for expr, resolved in self.expressions().items():
                text = re.sub(r"\$\{\{\s*" + re.escape(expr) + r"\s*\}\}", lambda _m, r=resolved: r, text)
            assert "${{" not in text, f"the rehearsal cannot resolve {key}: {text}"
            out[key] = text
        return out

    def job_env(self) -> dict[str, str]:
        lines = self.env_file.read_text().splitlines() if self.env_file.exists() else []
        return dict(line.split("=", 1) for line in lines if "=" in line)

    def prepare(self, fail: dict[str, str] | None, edit_checkout: Callable[[Path], None] | None) -> None:
        checkout_copy(self.workspace)  # what actions/checkout leaves: the files git tracks
        if edit_checkout is not None:
            edit_checkout(self.workspace)
        sys.path.insert(0, str(FIXTURE))
        from make_sdist import make_sdist

        sdist = make_sdist("tiny-ext", "0.1.0", self.tmp / "pypi")
        (self.tmp / "pypi" / "tiny-ext.json").write_text(json.dumps({"releases": {"0.1.0": [{
            "packagetype": "sdist", "url": f"https://files.example/{sdist.name}",
            "digests": {"sha256": hashlib.sha256(sdist.read_bytes()).hexdigest()},
        }]}}))  # fmt: skip
        self.bin.mkdir()
        curl = self.bin / "curl"  # PyPI's JSON and the sdist, from the fixture
        curl.write_text(f"""#!/bin/bash
out=""; url=""
while [ $# -gt 0 ]; do
  case "$1" in -o) out="$2"; shift 2;; --retry) shift 2;; -*) shift;; *) url="$1"; shift;; esac
done
case "$url" in
  https://pypi.org/pypi/tiny-ext/json) cat {self.tmp / "pypi" / "tiny-ext.json"};;
  https://files.example/{sdist.name}) cp {sdist} "$out";;
  *) echo "curl stand-in: no $url" >&2; exit 22;;
esac
""")
        standin = self.bin / "cibuildwheel"
        standin.write_text(f'#!/bin/sh\nexec {sys.executable} {STANDIN} "$@"\n')
        for path in (curl, standin):
            path.chmod(0o755)
        extra = " ".join(f"--extra-index-url {shlex.quote(u)}" for u in _pip_extra_indexes())
        cache = shlex.quote(str(factory_cache() / "uv"))
        torch = (f"{uv()} pip install --python python --cache-dir {cache} --link-mode hardlink "
                 f'--index-strategy unsafe-best-match {extra} "$FACTORY_TORCH_REQUIREMENT"')  # fmt: skip
        config = {
            "containers": str(self.tmp / "containers"), "uv": uv(),
            "toolkits": {f"/usr/local/cuda-{self.cell.cuda}": str(self.machine.toolkits[self.cell.cuda])},
            "pythons": self.machine.pythons,
            "uv_cache": str(factory_cache() / "uv"), "record": str(self.tmp / "container-commands.jsonl"),
            "replace": [["--matrix /project/matrix.toml", self.cell.fixture_args]],
            "replace_re": [[TORCH_INSTALL, torch]],
            "fail": fail,
        }  # fmt: skip
        (self.tmp / "standin.json").write_text(json.dumps(config))
        # what the disk step would leave in $GITHUB_ENV (it needs sudo and Docker: not run here)
        (self.tmp / "scratch" / "ccache").mkdir(parents=True)
        self.env_file.write_text(f"FACTORY_JOB_STARTED={int(time.time())}\nFACTORY_SCRATCH={self.tmp / 'scratch'}\n")

    def run_step(self, step: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        script = str(step["run"])
        for command in ("factory workflow cell-env", "factory workflow patch", "factory workflow build-cell"):
            script = script.replace(command, f"{command} {self.cell.fixture_args}")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "CUDA", "PYTHONPATH"))},
            **self.job_env(), **self.step_env(step),
            "PATH": f"{self.bin}:{BIN}:{os.environ['PATH']}", "GITHUB_ENV": str(self.env_file),
            "GITHUB_STEP_SUMMARY": str(self.summary), "RUNNER_TEMP": str(self.tmp / "runner-temp"),
            "REHEARSAL_CONFIG": str(self.tmp / "standin.json"),
        }  # fmt: skip
        shell = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script]
        done = subprocess.run(shell, cwd=self.workspace, env=env, capture_output=True, text=True, timeout=3000)
        with self.log.open("a") as log:
            log.write(
                f"\n=== step: {step.get('name') or script[:60]}\n{done.stdout}{done.stderr}[exit {done.returncode}]\n"
            )
        return done

    def run(self, fail: dict[str, str] | None = None, edit_checkout: Callable[[Path], None] | None = None) -> Result:
        self.prepare(fail, edit_checkout)
        rc = None
        for step in self.doc["jobs"]["cell"]["steps"]:
            run, uses = str(step.get("run", "")), str(step.get("uses", ""))
            if uses or "data-root" in run or re.fullmatch(r"pip install \.( .*)?", run.strip()):
                continue  # checkout, setup-python, artifacts; the disk step; the host's own factory install
            done = self.run_step(step)
            if step.get("id") == "build":
                rc = done.returncode
            elif done.returncode != 0:
                rc = done.returncode
                break
        assert rc is not None, "the job has no step with id build"
        pythons = tuple(p for p in PYTHONS if self.cell.tuple(p) in self.builds)
        return Result(rc=rc, output=self.log.read_text(), tmp=self.tmp, index=self.index, pythons=pythons,
                      cell=self.cell, builds=self.builds)  # fmt: skip


# --- what a cell's job must do, each a check that raises AssertionError naming what went wrong ---------


def failures(output: str) -> str:
    keep = [line for line in output.splitlines() if re.search(r"error|failed|found \d+x|No such file", line, re.I)]
    return "\n".join(keep[-25:])


def check_exit(r: Result) -> None:
    assert r.rc == 0, f"the cell's job failed (exit {r.rc}):\n{failures(r.output)}"


def check_order(r: Result) -> None:
    seen = re.findall(r"^stand-in \[(cp\d+)-manylinux_x86_64 ([\w-]+)\]", r.output, re.M)
    wanted = [(p, s) for p in r.pythons for s in STAGES]
    assert [x for x in seen if x[1] != "before-all"] == wanted, f"stages run: {seen}, expected {wanted}"


def index_files(r: Result) -> list[str]:
    page = httpx.get(f"{r.index}/{r.cell.channel}/simple/tiny-ext/", headers={"Accept": JSON})
    return [f["filename"] for f in page.json()["files"] if f["filename"].endswith(".whl")] if page.is_success else []


def check_published(r: Result) -> None:
    """Each Python's wheel on the index, under its own build number, as it left the cell's job."""
    held = index_files(r)
    for py in r.pythons:
        build = r.builds[r.cell.tuple(py)]
        name = f"tiny_ext-0.1.0+{r.cell.label}-{build}-{py}-{py}-"
        found = [f for f in held if f.startswith(name) and "manylinux_2_28_x86_64" in f]
        assert len(found) == 1, f"the cell's job did not publish {name}*manylinux_2_28_x86_64* (the index holds {held})"
        (wheel,) = (r.tmp / "workspace" / "wheelhouse" / f"{py}-manylinux_x86_64").glob("*.whl")
        with zipfile.ZipFile(wheel) as z:
            info = next(n for n in z.namelist() if n.endswith(".dist-info/WHEEL"))
            assert f"Build: {build}" in z.read(info).decode().splitlines()
            record = z.read(next(n for n in z.namelist() if n.endswith("factory_build.json"))).decode()
        (sdist,) = (r.tmp / "pypi").glob("*.tar.gz")
        assert hashlib.sha256(sdist.read_bytes()).hexdigest() in record


def disk_lines(r: Result) -> list[tuple[str, str, dict[str, float]]]:
    """(Python, step, folder -> GB) for each `factory workflow disk` line inside a container."""
    out, python = [], None
    for line in r.output.splitlines():
        m = re.match(r"stand-in \[(cp\d+)-", line)
        python = m[1] if m else python
        d = re.match(r"disk (container-[\w-]+):", line)
        if d and python:
            out.append((python, d[1], {Path(k).name if "opt" in k else k: v for k, v in parse_du(line).items()}))
    return out


def check_disk(r: Result) -> None:
    """Never more than one Python's torch in a container, and the disk logged after each container step."""
    lines = disk_lines(r)
    pythons_gb = [du["python"] for _, _, du in lines]
    assert pythons_gb and pythons_gb[0] > 1, f"/opt/python after the first before-build: {pythons_gb[:1]} GB, no torch?"
    one = pythons_gb[0]
    assert max(pythons_gb) < 1.5 * one, (
        f"a container held more than one Python's torch at once: /opt/python reached {max(pythons_gb):.2f} GB, "
        f"one Python's is {one:.2f} GB (every Python of the cell built in one container)"
    )
    steps = {(p, s) for p, s, _ in lines}
    wanted = {(p, s) for p in r.pythons for s in ("container-before-build", "container-repair", "container-test")}
    assert wanted <= steps, f"disk not logged for {sorted(wanted - steps)}"


def check_nvcc_threads(r: Result) -> None:
    """nvcc ran with the job's FACTORY_NVCC_THREADS, not upstream's `--threads 4`."""
    threads = re.search(r"^FACTORY_NVCC_THREADS=(\d+)$", r.output, re.M)
    assert threads, "the cell settings step set no FACTORY_NVCC_THREADS"
    ninjas = sorted((r.tmp / "containers").glob("*-project/work/src/*/build/*/build.ninja"))
    assert len(ninjas) == len(r.pythons), ninjas
    for ninja in ninjas:
        flags = next(line for line in ninja.read_text().splitlines() if line.startswith("cuda_post_cflags"))
        assert f"--threads {threads[1]}" in flags and "--threads 4" not in flags, flags


def check_compile_cache(r: Result) -> None:
    """The second Python's device code came from the compile cache the first filled: the cache is a volume
    of the runner, and every container has the same paths."""
    env = {**os.environ, "CCACHE_DIR": str(r.tmp / "scratch" / "ccache")}
    stats = subprocess.run(["ccache", "--print-stats"], env=env, capture_output=True, text=True, check=True).stdout
    counts = dict(line.split("\t") for line in stats.splitlines() if "\t" in line)
    hits = int(counts.get("direct_cache_hit", 0)) + int(counts.get("preprocessed_cache_hit", 0))
    assert hits >= len(r.pythons) - 1, f"the compile cache served {hits} compiles to {len(r.pythons)} Pythons: {counts}"


def check_no_secrets(r: Result) -> None:
    for record in r.records():
        leaked = [k for k, v in record["env"].items() if TOKEN in v or "INDEX_URL" in k]
        assert not leaked, f"{record['stage']} of {record['identifier']} saw {leaked} in the container"


CHECKS = (
    check_exit,
    check_order,
    check_published,
    check_disk,
    check_nvcc_threads,
    check_compile_cache,
    check_no_secrets,
)


def load_doc() -> dict[str, Any]:
    return yaml.safe_load((ROOT / ".github" / "workflows" / "build-cells.yml").read_text())


def build_step(doc: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in doc["jobs"]["cell"]["steps"] if s.get("id") == "build")


def report(r: Result) -> None:
    """What a reader of the log wants: each Python's outcome, and the disk after each step."""
    print(f"\n--- rehearsal of {r.cell.id}: build step exit {r.rc} (T: {r.tmp})")
    for line in r.output.splitlines():
        if re.match(r"(cp\d+-manylinux_x86_64: |disk |tiny_ext-.*: 200 OK|::error::|stand-in: )", line):
            print(
                re.sub(r"/containers/\d+-(cp\d+)-manylinux_x86_64", r"/<\1 container>", line.replace(str(r.tmp), "T"))
            )
