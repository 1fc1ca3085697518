"""Fixtures for the index tests: data directories, settings, an in-process app client."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

with warnings.catch_warnings():  # starlette warns that it prefers httpx2; httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from index_server.app import create_app
from index_server.local import LocalIndex
from index_server.settings import IndexSettings

TOKEN = "s3cret-token"
ROOT_MAP = {"2.9": 12, "2.14": 13}


@pytest.fixture
def settings(tmp_path: Path) -> IndexSettings:
    return IndexSettings(
        data_dir=tmp_path / "data",
        upload_tokens=frozenset({TOKEN}),
        upstream_url=None,
        root_cuda_major=ROOT_MAP,
        access_log=tmp_path / "access.log",
    )


@pytest.fixture
def local(settings: IndexSettings) -> LocalIndex:
    return LocalIndex(settings.data_dir, settings)


@pytest.fixture
def client(settings: IndexSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), follow_redirects=False) as c:
        yield c


from index_fixtures import (  # noqa: E402, F401 - session fixtures of the integration tests
    dists,
    env,
    index,
    poetry,
    upstream,
    uv,
    venv_torch29,
    venv_torch214,
    work,
)
