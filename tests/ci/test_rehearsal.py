"""Rehearse one job of build-cells.yml on this machine: its own before-build, build, repair and test commands,
read from the workflow file, for the tiny CUDA fixture, in fresh CPython envs holding only what a current
manylinux image's CPython holds (pip, build, packaging, pyproject-hooks: no setuptools, no wheel).

The substitutions, and only these (the container itself is not rehearsed):
- torch from PyPI (installed by uv with hard links from the factory's package cache, so no new ~5 GB copy)
  instead of `pip install` from PyTorch's index;
- the factory's PyPI CUDA 13 toolkit for the image's /usr/local/cuda-13.0;
- the fixture's sdist, matrix and recipes for the real package's;
- container paths: /opt/factory (the factory venv before-all makes) is this checkout's venv plus the
  hooks and shim before-all's `factory workflow container-setup` writes; /tmp/factory-* scratch is per test.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML (dev extra) reads the workflow files")

from factory.commands.common import _pip_extra_indexes  # noqa: E402

ROOT = Path(__file__).parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "tiny_ext"
BIN = Path(sys.executable).parent
CELL = "tiny-ext-0.1.0-cu13.0-torch2.14-abi1"
TUPLE = "tiny-ext-0.1.0-cu13.0-torch2.14-cp311-abi1"
BUILD = 3  # a synthetic build number from the plan (`factory plan --index`): the repaired name must carry it
PYTHON = "3.11"
IMAGE_PYTHON_HOLDS = ("pip", "build", "packaging", "pyproject-hooks")  # pypa/manylinux since 2025-08
TORCH_INSTALL = re.compile(r'pip install "\$FACTORY_TORCH_REQUIREMENT" --extra-index-url "\$FACTORY_TORCH_INDEX"')

pytestmark = pytest.mark.integration


def factory_cache() -> Path:
    return Path(os.environ.get("FACTORY_CACHE") or Path.home() / ".cache" / "cuda-wheel-factory")


@pytest.fixture(scope="module")
def pypi_cuda13_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The factory's CUDA 13 toolkit from PyPI, in its shared cache (made there on first use)."""
    from packaging.version import Version

    from factory.cli import build_parser
    from factory.commands.common import context_from_args
    from factory.process import SubprocessRunner
    from factory.stages.provision import cuda_toolkit

    ctx = context_from_args(build_parser().parse_args(["build", "--cache", str(factory_cache()), "--out", "unused"]))
    log = tmp_path_factory.mktemp("toolkit") / "provision.log"
    home = cuda_toolkit(Version("13.0"), ctx, SubprocessRunner(), log).home
    return home


class Job:
    """One cell's job of build-cells.yml, its commands taken from the parsed workflow."""

    def __init__(self, doc: dict[str, Any], tmp: Path, toolkit: Path) -> None:
        steps = doc["jobs"]["cell"]["steps"]
        self.cibw = dict(next(s for s in steps if "cibuildwheel" in str(s.get("run", "")))["env"])
        self.settings = next(s for s in steps if "factory workflow cell-env" in str(s.get("run", "")))["run"]
        self.tmp, self.toolkit = tmp, toolkit
        self.log = tmp / "rehearsal.log"
        self.opt = tmp / "opt-factory"
        self.uv = shutil.which("uv", path=f"{BIN}:{os.environ['PATH']}") or "uv"

    def substitute(self, command: str) -> str:
        fixture = (
            f"--matrix {FIXTURE / 'matrix.toml'} --recipes {FIXTURE / 'recipes.toml'} "
            f"--releases {FIXTURE / 'releases.toml'}"
        )
        command = command.replace("--matrix /project/matrix.toml", fixture)
        command = command.replace("factory workflow cell-env", f"factory workflow cell-env {fixture}")
        command = command.replace("/usr/local/cuda-13.0", str(self.toolkit))
        command = command.replace("/opt/factory", str(self.opt))
        command = command.replace("/tmp/factory-", str(self.tmp / "factory-"))
        return TORCH_INSTALL.sub(self.torch_from_pypi(), command)

    def torch_from_pypi(self) -> str:
        extra = " ".join(f"--extra-index-url {shlex.quote(u)}" for u in _pip_extra_indexes())
        cache = shlex.quote(str(factory_cache() / "uv"))
        uv = f"{self.uv} pip install --python python --cache-dir {cache} --link-mode hardlink"
        return f'{uv} {extra} "$FACTORY_TORCH_REQUIREMENT"'

    def sh(self, command: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
        with self.log.open("a") as log:
            log.write(f"\n$ {command}\n")
        # the shell GitHub runs a `shell: bash` step with: a failed command inside a pipe fails the step
        shell = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", command]
        done = subprocess.run(shell, env=env, cwd=cwd, capture_output=True, text=True, timeout=1800)
        with self.log.open("a") as log:
            log.write(done.stdout + done.stderr + f"[exit {done.returncode}]\n")
        return done

    def fresh_env(self, name: str) -> Path:
        """A CPython env holding only what a manylinux image's CPython holds."""
        env = self.tmp / name
        subprocess.run([self.uv, "venv", "--quiet", "--python", PYTHON, str(env)], check=True, timeout=300)
        install = [self.uv, "pip", "install", "--quiet", "--python", str(env / "bin" / "python"), *IMAGE_PYTHON_HOLDS]
        subprocess.run(
            install, check=True, timeout=300, env={**os.environ, "UV_CACHE_DIR": str(factory_cache() / "uv")}
        )
        probe = "import importlib.util as u; print(u.find_spec('setuptools') is None and u.find_spec('wheel') is None)"
        assert (
            subprocess.run([env / "bin" / "python", "-c", probe], capture_output=True, text=True).stdout.strip()
            == "True"
        )
        return env

    def env_of(self, venv: Path, extra: dict[str, str]) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON", "CUDA"))}
        return {**base, **extra, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}


def cell_settings(job: Job) -> dict[str, str]:
    out = job.tmp / "github_env"
    env = {
        **os.environ, "PROFILE": "ci", "CELL": CELL, "BUILDS": json.dumps({TUPLE: BUILD}, indent=2),
        "GITHUB_ENV": str(out), "PATH": f"{BIN}:{os.environ['PATH']}",
    }  # fmt: skip
    done = job.sh(job.substitute(job.settings), env, job.tmp)
    assert done.returncode == 0, job.log.read_text()
    return dict(line.split("=", 1) for line in out.read_text().splitlines())


def build_environment(job: Job, settings: dict[str, str], venv: Path) -> dict[str, str]:
    """CIBW_ENVIRONMENT evaluated as cibuildwheel does (in order, each seeing the ones before), plus the
    variables CIBW_ENVIRONMENT_PASS_LINUX hands into the container."""
    passed = {
        k: settings.get(k, "2" if k == "MAX_JOBS" else "") for k in job.cibw["CIBW_ENVIRONMENT_PASS_LINUX"].split()
    }
    env = job.env_of(venv, passed)
    script = f"set -a; {job.substitute(settings['CIBW_ENVIRONMENT_LINUX'])}; env -0"
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, timeout=60, check=True)
    return dict(item.split("=", 1) for item in done.stdout.decode().split("\0") if "=" in item)


def frontend_command(frontend: str, package: Path, out: Path) -> str:
    name, _, rest = frontend.partition(";")
    args = rest.split("args:", 1)[1].strip() if "args:" in rest else ""
    if name.strip() == "pip":
        return f"python -m pip wheel {package} --wheel-dir {out} --no-deps {args}"
    return f"python -m build {package} --wheel --outdir {out} {args}"


def rehearse(job: Job, drop_from_before_build: tuple[str, ...] | None) -> tuple[str, subprocess.CompletedProcess[str]]:
    """Run the job; return the stage reached ("done" or where it failed) and that command's result."""
    from cibuildwheel.util.helpers import prepare_command

    sys.path.insert(0, str(FIXTURE))
    from make_sdist import make_sdist

    settings = cell_settings(job)
    assert settings["CIBW_BUILD"] == "cp311-manylinux_x86_64"
    # before-all's factory part (the venv and ccache are the container's; ccache is Debian's here)
    (job.opt / "bin").mkdir(parents=True)
    (job.opt / "bin" / "factory").symlink_to(BIN / "factory")
    setup = next(p for p in job.cibw["CIBW_BEFORE_ALL_LINUX"].split("&&") if "container-setup" in p)
    assert job.sh(job.substitute(setup), dict(os.environ), job.tmp).returncode == 0, job.log.read_text()

    sdist = make_sdist("tiny-ext", "0.1.0", job.tmp)
    settings["FACTORY_SDIST"] = str(sdist)  # what the sdist step exports (there: /project/work/sdist/...)
    with tarfile.open(sdist) as tar:
        tar.extractall(job.tmp / "src", filter="data")
    package = next((job.tmp / "src").iterdir())

    build_env_dir = job.fresh_env("build-venv")
    env = build_environment(job, settings, build_env_dir)
    before = job.cibw["CIBW_BEFORE_BUILD_LINUX"]
    if drop_from_before_build == ("torch",):
        before, count = TORCH_INSTALL.subn("true", before)
        assert count == 1, "before-build installs no torch"
    for stage, command in (
        ("before-build", prepare_command(job.substitute(before), package=str(package), project=str(ROOT))),
        ("build", frontend_command(job.cibw["CIBW_BUILD_FRONTEND"], package, job.tmp / "built")),
    ):
        done = job.sh(command, env, job.tmp)
        if done.returncode != 0:
            return stage, done
    (built,) = (job.tmp / "built").glob("*.whl")
    repair = prepare_command(
        job.substitute(job.cibw["CIBW_REPAIR_WHEEL_COMMAND_LINUX"]),
        wheel=str(built),
        dest_dir=str(job.tmp / "repaired"),
    )
    done = job.sh(repair, env, job.tmp)
    if done.returncode != 0:
        return "repair", done
    (repaired,) = (job.tmp / "repaired").glob("*.whl")

    test_dir = job.fresh_env("test-venv")
    test_env = job.env_of(test_dir, {k: env[k] for k in job.cibw["CIBW_ENVIRONMENT_PASS_LINUX"].split()})
    (job.tmp / "test-cwd").mkdir()
    for stage, command in (
        ("before-test", job.substitute(job.cibw["CIBW_BEFORE_TEST_LINUX"])),
        ("install", f"python -m pip install {repaired}"),
        ("test", job.cibw["CIBW_TEST_COMMAND"]),
    ):
        done = job.sh(command, test_env, job.tmp / "test-cwd")
        if done.returncode != 0:
            return stage, done
    return "done", done


def sdist_of(tmp: Path) -> Path:
    (sdist,) = tmp.glob("tiny*ext-0.1.0.tar.gz")
    return sdist


# Cases: the job as written; and before-build without the tuple's torch, which the image does not hold:
# its first use (copying torch's headers) must then fail in the bare env, nothing of this machine leaking in.
# Leaving out setuptools, wheel, packaging and ninja was tried too and still builds for this tuple: torch
# 2.14.1 requires setuptools>=77.0.3, and setuptools >= 71 puts its vendored `wheel` on sys.path, so
# upstream's `from wheel.bdist_wheel import ...` after `from setuptools import setup` imports. The workflow
# installs them anyway, for torch releases that bring no setuptools (`factory workflow check` requires it).
DROPS = {"as-written": None, "without-torch": ("torch",)}


@pytest.mark.parametrize("case", list(DROPS))
def test_rehearse_one_cell_job(case: str, tmp_path: Path, pypi_cuda13_home: Path) -> None:
    doc = yaml.safe_load((ROOT / ".github" / "workflows" / "build-cells.yml").read_text())
    job = Job(doc, tmp_path, pypi_cuda13_home)
    drop = DROPS[case]
    stage, done = rehearse(job, drop)
    if drop is None:
        assert stage == "done", f"the job failed at {stage}:\n{job.log.read_text()[-6000:]}"
        (repaired,) = (tmp_path / "repaired").glob("*.whl")
        assert repaired.name.startswith(f"tiny_ext-0.1.0+cu.13.0.torch.2.14.abi.1-{BUILD}-cp311-cp311-")
        assert "manylinux_2_28_x86_64" in repaired.name
        with zipfile.ZipFile(repaired) as wheel:
            info = next(n for n in wheel.namelist() if n.endswith(".dist-info/WHEEL"))
            assert f"Build: {BUILD}" in wheel.read(info).decode().splitlines()
            record = next(n for n in wheel.namelist() if n.endswith("factory_build.json"))
            assert hashlib.sha256(sdist_of(tmp_path).read_bytes()).hexdigest() in wheel.read(record).decode()
    else:
        assert stage == "before-build", f"expected before-build to fail without {drop}; reached {stage}"
        assert "No module named 'torch'" in done.stdout + done.stderr
        assert not list((tmp_path / "built").glob("*.whl"))
