"""Shared fixture: build the tiny CUDA extension (and its broken twin) once per session, for real."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import pytest
from build_fixtures import FixtureBuild, fixture_args, make_sdist
from packaging.version import Version


@pytest.fixture(scope="session")
def fixture_sdists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    dest = tmp_path_factory.mktemp("sdists")
    return {name: make_sdist(name, "0.1.0", dest) for name in ("tiny-ext", "tiny-ext-broken")}


@pytest.fixture(scope="session")
def build_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh factory cache per session, except uv's package cache, which is shared (uv locks it).

    Envs are hard links into the package cache: with a private one, every session would unpack its own
    ~5 GB copy of torch, and pytest keeps the last three sessions' folders.
    """
    cache = tmp_path_factory.mktemp("factory-cache")
    shared = Path(os.environ.get("FACTORY_CACHE") or Path.home() / ".cache" / "cuda-wheel-factory") / "uv"
    shared.mkdir(parents=True, exist_ok=True)
    (cache / "uv").symlink_to(shared, target_is_directory=True)
    return cache


@pytest.fixture(scope="session")
def fixture_build(
    tmp_path_factory: pytest.TempPathFactory, fixture_sdists: dict[str, Path], build_cache: Path
) -> FixtureBuild:
    from factory.cli import main

    out = tmp_path_factory.mktemp("out")
    capture = tmp_path_factory.mktemp("capture") / "stdout.txt"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(
            ["build", "--profile", "with-broken", *fixture_args(fixture_sdists, build_cache), "--out", str(out)]
        )
    capture.write_text(buffer.getvalue())
    return FixtureBuild(out=out, cache=build_cache, exit_code=code, stdout=buffer.getvalue(), sdists=fixture_sdists)


@pytest.fixture(scope="session")
def pypi_cuda_toolkit(
    tmp_path_factory: pytest.TempPathFactory, fixture_sdists: dict[str, Path], build_cache: Path
) -> Path:
    """CUDA_HOME of the toolkit the factory provisions from PyPI into this session's cache (the builds reuse it).

    Provisioned here, before any build, so that a download or install failure fails the tests with its own
    message instead of surfacing as skipped tuples.
    """
    from factory.cli import build_parser
    from factory.commands.common import context_from_args
    from factory.process import SubprocessRunner
    from factory.stages.provision import cuda_toolkit
    from factory.stages.records import StageFailed

    args = build_parser().parse_args(["build", *fixture_args(fixture_sdists, build_cache), "--out", "unused"])
    log = tmp_path_factory.mktemp("toolkit") / "provision.log"
    try:
        home = cuda_toolkit(Version("13.0"), context_from_args(args), SubprocessRunner(), log).home
    except StageFailed as failed:
        log_text = log.read_text() if log.exists() else ""
        pytest.fail(f"the factory could not provision CUDA 13 from PyPI: {failed}\n{log_text[-2000:]}")
    return home
