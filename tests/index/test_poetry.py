"""poetry resolves from the index: the mamba-ssm build whose torch pin fits the project's torch."""

from __future__ import annotations

from pathlib import Path

import pytest
from index_fixtures import POETRY_PROJECT, IndexServer
from servers import Served, run

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("torch", "expected"),
    [("2.9.0", "2.3.2.post1+cu.12.8.torch.2.9.abi.1"), ("2.14.1", "2.3.2.post1+cu.13.0.torch.2.14.abi.1")],
)
def test_poetry_lock_picks_the_matching_build(
    poetry: Path,
    index: IndexServer,
    upstream: Served,
    env: dict[str, str],
    work: Path,
    torch: str,
    expected: str,
) -> None:
    project = work / f"poetry-{torch}"
    project.mkdir()
    pyproject = POETRY_PROJECT.format(torch=torch, package="mamba-ssm", index=index.url, torch_index=upstream.url)
    (project / "pyproject.toml").write_text(pyproject)
    poetry_env = {
        **env,
        "POETRY_CACHE_DIR": str(work / "poetry-cache"),
        "POETRY_VIRTUALENVS_IN_PROJECT": "true",
    }
    done = run([str(poetry), "lock"], poetry_env, cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    lock = (project / "poetry.lock").read_text()
    assert f'name = "mamba-ssm"\nversion = "{expected}"' in lock, lock[:3000]
    assert f'name = "torch"\nversion = "{torch}"' in lock
    assert 'name = "einops"' in lock  # passed through from upstream


def test_poetry_publish_is_accepted_and_a_hostile_wheel_refused(
    poetry: Path, index: IndexServer, env: dict[str, str], work: Path
) -> None:
    """poetry's upload form (name, version, filetype, pyversion from the file) passes the form rules."""
    import httpx
    from fake_dists import write_wheel
    from hostile_builders import Member, WheelSpec
    from index_fixtures import UPLOAD_TOKEN

    project = work / "poetry-publish"
    (project / "dist").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "poetry-probe"\nversion = "1.0"\n\n'
        '[build-system]\nrequires = ["poetry-core"]\nbuild-backend = "poetry.core.masonry.api"\n'
    )
    wheel = write_wheel(project / "dist", "poetry-probe", "1.0")
    poetry_env = {
        **env,
        "POETRY_CACHE_DIR": str(work / "poetry-cache"),
        "POETRY_REPOSITORIES_FACTORY_URL": f"{index.url}/legacy/",
        "POETRY_HTTP_BASIC_FACTORY_USERNAME": "__token__",
        "POETRY_HTTP_BASIC_FACTORY_PASSWORD": UPLOAD_TOKEN,
    }
    done = run([str(poetry), "publish", "-r", "factory", "--no-interaction"], poetry_env, cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    page = httpx.get(f"{index.url}/simple/poetry-probe/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    assert wheel.name in [f["filename"] for f in page.json()["files"]]

    wheel.unlink()
    (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text().replace('"1.0"', '"2.0"'))
    filename, body = WheelSpec(
        name="poetry-probe",
        version="2.0",
        members=[Member(name="poetry_probe/__init__.py"), Member(name="../../evil.py")],
    ).build_bytes()
    (project / "dist" / filename).write_bytes(body)
    done = run([str(poetry), "publish", "-r", "factory", "--no-interaction"], poetry_env, cwd=project)
    assert done.returncode != 0 and "path-dotdot" in done.stdout + done.stderr, done.stdout + done.stderr
    page = httpx.get(f"{index.url}/simple/poetry-probe/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    assert filename not in [f["filename"] for f in page.json()["files"]]
