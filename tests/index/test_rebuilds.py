"""Two builds of one version (a rebuild, PEP 427 build tags 1 and 2): pip, uv and poetry take build 2."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import pytest
from index_fixtures import POETRY_PROJECT, IndexServer
from servers import Served, run

pytestmark = pytest.mark.integration

BUILD_2 = "rebuilt_ext-1.0.0+cu.13.0.torch.2.14.abi.1-2-cp311-cp311-manylinux_2_28_x86_64.whl"


def _installed_build(python: Path, env: dict[str, str]) -> str:
    done = run([str(python), "-c", "import rebuilt_ext; print(rebuilt_ext.BUILD)"], env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_json_page_lists_both_builds_with_their_provenance(index: IndexServer) -> None:
    import httpx

    page = httpx.get(
        f"{index.url}/simple/rebuilt-ext/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    ).json()
    wheels = {f["filename"]: f for f in page["files"] if f["filename"].endswith(".whl")}
    assert BUILD_2 in wheels and BUILD_2.replace("-2-cp311", "-1-cp311") in wheels
    assert wheels[BUILD_2]["_factory_build"]["spec"]["package"] == "rebuilt-ext"
    assert wheels[BUILD_2]["_factory_build"]["input_key"]


def test_pip_report_chooses_build_2(index: IndexServer, env: dict[str, str], venv_torch214: Path) -> None:
    done = run(
        [str(venv_torch214), "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-", "rebuilt-ext",
         "--index-url", f"{index.url}/simple"],
        env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    chosen = [unquote(i["download_info"]["url"]).rsplit("/", 1)[1] for i in json.loads(done.stdout)["install"]]
    assert [name for name in chosen if name.startswith("rebuilt_ext")] == [BUILD_2]


def test_uv_installs_build_2(index: IndexServer, env: dict[str, str], venv_torch214: Path, uv: Path) -> None:
    done = run(
        [
            str(uv),
            "pip",
            "install",
            "--python",
            str(venv_torch214),
            "rebuilt-ext",
            "--index-url",
            f"{index.url}/simple",
        ],
        env,
    )
    assert done.returncode == 0, done.stderr
    try:
        assert _installed_build(venv_torch214, env) == "2"
    finally:
        run([str(venv_torch214), "-m", "pip", "uninstall", "-y", "rebuilt-ext"], env)


def test_poetry_installs_build_2(
    poetry: Path, index: IndexServer, upstream: Served, env: dict[str, str], work: Path
) -> None:
    project = work / "poetry-rebuilt"
    project.mkdir()
    pyproject = POETRY_PROJECT.format(torch="2.14.1", package="rebuilt-ext", index=index.url, torch_index=upstream.url)
    (project / "pyproject.toml").write_text(pyproject)
    poetry_env = {**env, "POETRY_CACHE_DIR": str(work / "poetry-cache"), "POETRY_VIRTUALENVS_IN_PROJECT": "true"}
    done = run([str(poetry), "install", "--no-interaction"], poetry_env, cwd=project, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _installed_build(project / ".venv" / "bin" / "python", env) == "2"
