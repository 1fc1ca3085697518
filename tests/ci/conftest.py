"""What the CI tests share: the factory's wheel, built from a checkout as the runner has it.

A runner's checkout holds exactly the files git tracks, and the build container installs the factory from
that checkout with `pip install /project` (a wheel built from the tree, not an editable install). The
`factory_wheel` fixture does the same here once per session: `git ls-files` copied into a folder, then
`python -m build --wheel`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ci_checkout import build_wheel, checkout_copy
from ci_index import served_index


@pytest.fixture(scope="session")
def factory_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("factory-wheel")
    return build_wheel(checkout_copy(base / "checkout"), base / "dist")


@pytest.fixture
def index(tmp_path: Path) -> Iterator[str]:
    """A live `factory serve` on loopback accepting ci_index.TOKEN (an integration fixture by its name)."""
    with served_index(tmp_path / "index", tmp_path / "serve.log") as url:
        yield url
