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
from rehearsal import Machine, factory_cache


@pytest.fixture(scope="session")
def factory_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("factory-wheel")
    return build_wheel(checkout_copy(base / "checkout"), base / "dist")


@pytest.fixture
def index(tmp_path: Path) -> Iterator[str]:
    """A live `factory serve` on loopback accepting ci_index.TOKEN (an integration fixture by its name)."""
    with served_index(tmp_path / "index", tmp_path / "serve.log") as url:
        yield url


def _machine(cuda: str, tmp_path_factory: pytest.TempPathFactory) -> Machine:
    """The toolkit of `cuda` (made in the factory's shared cache on first use: CUDA 13 from PyPI, 12.4 from
    Debian's archive) and the CPythons the image has."""
    from packaging.version import Version

    from factory.cli import build_parser
    from factory.commands.common import context_from_args
    from factory.process import SubprocessRunner
    from factory.stages.interpreters import find_interpreter
    from factory.stages.provision import cuda_toolkit

    ctx = context_from_args(build_parser().parse_args(["build", "--cache", str(factory_cache()), "--out", "unused"]))
    home = cuda_toolkit(Version(cuda), ctx, SubprocessRunner(), tmp_path_factory.mktemp("toolkit") / "log").home
    return Machine(toolkits={cuda: home}, pythons={v: str(find_interpreter(v, ctx)) for v in ("3.11", "3.12")})


@pytest.fixture(scope="session")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Machine:
    """The image of a CUDA 13.0 cell: its toolkit and CPythons."""
    return _machine("13.0", tmp_path_factory)


@pytest.fixture(scope="session")
def machine_cu12(tmp_path_factory: pytest.TempPathFactory) -> Machine:
    """The image of a CUDA 12.4 cell: its toolkit and CPythons."""
    return _machine("12.4", tmp_path_factory)
