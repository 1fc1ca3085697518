"""Helpers for the build tests: the fixture sdists, CLI arguments and a view of one build's output."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "tiny_ext"
sys.path.insert(0, str(FIXTURE))

from make_sdist import make_sdist as make_sdist  # noqa: E402  (re-exported for conftest)

# These tests need nvcc: the CUDA 13 toolkit the factory assembles from PyPI's NVIDIA wheels (conftest's
# `pypi_cuda_toolkit`), never one on PATH, so they run on a machine without CUDA (GitHub's runners
# included); the first session on an empty cache pays the download.
needs_nvcc = pytest.mark.usefixtures("pypi_cuda_toolkit")


@dataclass
class FixtureBuild:
    out: Path
    cache: Path
    exit_code: int
    stdout: str
    sdists: dict[str, Path]

    def tuple_dir(self, package: str) -> Path:
        return self.out / f"{package}-0.1.0-cu13.0-torch2.14-cp311-abi1"

    def record(self, package: str, stage: str) -> dict[str, object]:
        return json.loads((self.tuple_dir(package) / f"{stage}.json").read_text())


def fixture_args(sdists: dict[str, Path], cache: Path) -> list[str]:
    args = [
        "--matrix", str(FIXTURE / "matrix.toml"),
        "--recipes", str(FIXTURE / "recipes.toml"),
        "--releases", str(FIXTURE / "releases.toml"),
        "--cache", str(cache),
    ]  # fmt: skip
    for name, path in sdists.items():
        args += ["--sdist", f"{name}={path}"]
    return args
