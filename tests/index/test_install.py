"""Real pip and uv against the real server: the right build per installed torch, torch kept, metadata only."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import pytest
from index_fixtures import Dists, IndexServer, torch_venv
from servers import run

pytestmark = pytest.mark.integration

BUILD_29 = "2.3.2.post1+cu.12.8.torch.2.9.abi.1"
BUILD_214 = "2.3.2.post1+cu.13.0.torch.2.14.abi.1"


def installed(python: Path, env: dict[str, str]) -> dict[str, str]:
    done = run([str(python), "-m", "pip", "list", "--format", "json"], env)
    assert done.returncode == 0, done.stderr
    return {row["name"].lower(): row["version"] for row in json.loads(done.stdout)}


def uninstall(python: Path, env: dict[str, str], *names: str) -> None:
    run([str(python), "-m", "pip", "uninstall", "-y", *names], env)


def pip_install(python: Path, env: dict[str, str], index_url: str, *names: str) -> None:
    done = run([str(python), "-m", "pip", "install", *names, "--index-url", index_url], env)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("venv", "channel", "expected", "rejected"),
    [
        ("venv_torch29", "simple", BUILD_29, BUILD_214),
        ("venv_torch214", "simple", BUILD_214, None),
        ("venv_torch29", "cu13/simple", "2.3.2.post1+cu.13.0.torch.2.9.abi.1", BUILD_214),
        ("venv_torch214", "cu12/simple", "2.3.2.post1+cu.12.6.torch.2.14.abi.1", BUILD_29),
    ],
)
def test_pip_picks_the_build_matching_installed_torch(
    request: pytest.FixtureRequest,
    index: IndexServer,
    env: dict[str, str],
    venv: str,
    channel: str,
    expected: str,
    rejected: str | None,
) -> None:
    python: Path = request.getfixturevalue(venv)
    torch_before = installed(python, env)["torch"]
    start = len(index.access_lines())
    pip_install(python, env, f"{index.url}/{channel}", "mamba-ssm")
    try:
        versions = installed(python, env)
        assert versions["mamba-ssm"] == expected
        assert versions["torch"] == torch_before  # torch was not replaced
        assert versions["einops"] == "0.8.0"  # passed through from upstream
        log = index.access_lines(start)
        wheel_gets = [line for line in log if line.startswith("GET ") and ".whl " in line]
        assert len(wheel_gets) == 1 and expected in unquote(wheel_gets[0]), log
        if rejected is not None:  # the rejected candidate was judged by its .metadata alone
            tag = rejected.split("+")[1]
            assert any(tag in line and line.split()[1].endswith(".whl.metadata") for line in log), log
            assert not any(tag in line and line.split()[1].endswith(".whl") for line in log), log
    finally:
        uninstall(python, env, "mamba-ssm", "einops")


@pytest.mark.parametrize(("venv", "expected"), [("venv_torch29", BUILD_29), ("venv_torch214", BUILD_214)])
def test_uv_picks_the_build_matching_installed_torch(
    request: pytest.FixtureRequest,
    index: IndexServer,
    env: dict[str, str],
    uv: Path,
    venv: str,
    expected: str,
) -> None:
    python: Path = request.getfixturevalue(venv)
    torch_before = installed(python, env)["torch"]
    start = len(index.access_lines())
    done = run(
        [
            str(uv),
            "pip",
            "install",
            "--python",
            str(python),
            "mamba-ssm",
            "--index-url",
            f"{index.url}/simple",
        ],
        env,
    )
    assert done.returncode == 0, done.stderr
    try:
        versions = installed(python, env)
        assert versions["mamba-ssm"] == expected and versions["torch"] == torch_before
        wheel_gets = [line for line in index.access_lines(start) if line.split()[1].endswith(".whl")]
        assert len(wheel_gets) == 1 and expected in unquote(wheel_gets[0]), wheel_gets
    finally:
        uninstall(python, env, "mamba-ssm", "einops")


def test_sentinel_fails_fast_with_the_matrix_url(
    index: IndexServer, env: dict[str, str], venv_torch29: Path, uv: Path
) -> None:
    """causal-conv1d has only a torch 2.14 build: with torch 2.9 installed the sentinel is reached."""
    start = len(index.access_lines())
    done = run(
        [str(venv_torch29), "-m", "pip", "install", "causal-conv1d", "--index-url", f"{index.url}/simple"],
        env,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "no prebuilt wheel on this index matches your torch" in output
    assert f"{index.url}/project/causal-conv1d/" in output and "Nothing was compiled" in output
    assert "causal-conv1d" not in installed(venv_torch29, env)
    log = index.access_lines(start)
    assert not any(line.split()[1].endswith(".whl") for line in log), log
    done = run(
        [
            str(uv),
            "pip",
            "install",
            "--python",
            str(venv_torch29),
            "causal-conv1d",
            "--index-url",
            f"{index.url}/simple",
        ],
        env,
    )
    assert done.returncode != 0 and f"{index.url}/project/causal-conv1d/" in done.stdout + done.stderr


@pytest.mark.parametrize("pip_version", ["22.2", "23.1"])
def test_old_pips_install(index: IndexServer, env: dict[str, str], dists: Dists, work: Path, pip_version: str) -> None:
    python = torch_venv(work, env, dists, "2.14.1", pip_version, f"venv-pip{pip_version}")
    done = run([str(python), "-m", "pip", "--version"], env)
    assert done.stdout.startswith(f"pip {pip_version}")
    pip_install(python, env, f"{index.url}/simple", "mamba-ssm")
    versions = installed(python, env)
    assert versions["mamba-ssm"] == BUILD_214 and versions["torch"] == "2.14.1"
