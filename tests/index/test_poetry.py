"""poetry resolves from the index: the mamba-ssm build whose torch pin fits the project's torch."""

from __future__ import annotations

from pathlib import Path

import pytest
from index_fixtures import IndexServer
from servers import Served, run

pytestmark = pytest.mark.integration

PYPROJECT = """
[tool.poetry]
package-mode = false

[tool.poetry.dependencies]
python = "~3.11"
torch = {{ version = "{torch}", source = "torchidx" }}
mamba-ssm = "*"

[[tool.poetry.source]]
name = "factory"
url = "{index}/simple/"
priority = "primary"

[[tool.poetry.source]]
name = "torchidx"
url = "{torch_index}/torch-index/simple/"
priority = "explicit"
"""


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
    (project / "pyproject.toml").write_text(PYPROJECT.format(torch=torch, index=index.url, torch_index=upstream.url))
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
