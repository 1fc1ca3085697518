"""The factory's built wheel, installed into a fresh venv, holds every file git tracks under factory/ and
index_server/, and `factory workflow container-setup` runs from it (the build container's before-all).

An editable install reads the files from the source tree, so it cannot show a file missing from the
wheel: this test installs the wheel itself, runs from a folder outside the checkout, and checks that the
factory it imports is the installed one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ci_checkout import tracked_files

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
PYTHON = "3.11"


def uv() -> str:
    return shutil.which("uv", path=f"{BIN}:{os.environ['PATH']}") or "uv"


@pytest.fixture(scope="module")
def wheel_venv(factory_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("wheel-venv") / "venv"
    subprocess.run([uv(), "venv", "--quiet", "--python", PYTHON, str(venv)], check=True, timeout=300)
    install = [uv(), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), str(factory_wheel)]
    done = subprocess.run(install, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return venv


def site_packages(venv: Path, cwd: Path) -> Path:
    probe = "import factory, pathlib; print(pathlib.Path(factory.__file__).parent.parent)"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(
        [venv / "bin" / "python", "-c", probe], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return Path(done.stdout.strip())


def test_the_built_wheel_holds_every_tracked_file(wheel_venv: Path, tmp_path: Path) -> None:
    installed = site_packages(wheel_venv, tmp_path)
    assert installed.is_relative_to(wheel_venv), f"factory imported from {installed}, not from the wheel's venv"
    tracked = tracked_files("factory", "index_server")
    data = [p for p in tracked if p.startswith("factory/data/")]
    assert "factory/data/libc_single_threaded.c" in data and "factory/data/import_guard.py.in" in data
    missing = [p for p in tracked if not (installed / p).is_file()]
    assert missing == [], f"{len(missing)} tracked files are not in the built wheel: {missing}"


def test_container_setup_runs_from_the_built_wheel(wheel_venv: Path, tmp_path: Path) -> None:
    prefix = tmp_path / "opt-factory"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(
        [wheel_venv / "bin" / "factory", "workflow", "container-setup", "--prefix", str(prefix)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert (prefix / "hooks" / "sitecustomize.py").is_file()
    assert (prefix / "shim" / "libc_single_threaded.o").stat().st_size > 0
