"""Real full-package builds: causal-conv1d 1.7.0 and mamba-ssm 2.3.2.post1 for the quick profile.

Minutes each on a small machine (less once the shared compile cache is warm): `pytest -m slow`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from build_fixtures import ROOT, needs_nvcc
from packaging.utils import parse_wheel_filename

from factory.cli import main
from factory.commands.common import _pip_extra_indexes

pytestmark = [pytest.mark.slow, needs_nvcc]

EXPECT = {
    "causal-conv1d": ("1.7.0+cu.13.0.torch.2.14.abi.1", "causal_conv1d_cuda"),
    "mamba-ssm": ("2.3.2.post1+cu.13.0.torch.2.14.abi.1", "selective_scan_cuda"),
}


@pytest.fixture(scope="module")
def quick_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("quick")
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["build", "--matrix", str(ROOT / "matrix.toml"), "--profile", "quick", "--out", str(out)])
    assert code == 0
    return out


@pytest.mark.parametrize("package", sorted(EXPECT))
def test_quick_wheel(quick_build: Path, package: str, tmp_path: Path) -> None:
    version, module = EXPECT[package]
    (wheel,) = quick_build.glob(f"{package}-*/wheel/*.whl")
    _, got_version, _, tags = parse_wheel_filename(wheel.name)
    assert str(got_version) == version
    assert "manylinux_2_28_x86_64" in {t.platform for t in tags}
    meta = subprocess.run(["unzip", "-p", wheel, "*/METADATA"], capture_output=True, text=True).stdout
    assert "Requires-Dist: torch>=2.14,<2.15" in meta.splitlines()
    auditwheel = Path(sys.executable).parent / "auditwheel"
    shown = subprocess.run([auditwheel, "show", "--json", wheel], capture_output=True, text=True).stdout
    sym = json.loads(shown[shown.index("{") :])["sym_tag"]
    assert tuple(int(x) for x in sym.split("_")[1:3]) <= (2, 28)
    # a fresh venv with only torch 2.14.1 and the wheel imports the extension
    uv = Path(sys.executable).parent / "uv"
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", "--python", "3.11", venv], check=True)
    indexes = [arg for url in _pip_extra_indexes() for arg in ("--extra-index-url", url)]
    env = {**os.environ, "UV_LINK_MODE": "hardlink"}
    python = venv / "bin" / "python"
    subprocess.run([uv, "pip", "install", "-q", "--python", python, *indexes, "--index-strategy", "unsafe-best-match",
                    "torch==2.14.1"], check=True, env=env)  # fmt: skip
    subprocess.run([uv, "pip", "install", "-q", "--python", python, "--no-deps", wheel], check=True, env=env)
    done = subprocess.run([venv / "bin" / "python", "-c", f"import torch, {module}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
