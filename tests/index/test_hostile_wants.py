"""The want endpoint against its hostile corpus (tests/index/hostile_wants.py): each report refused with its
status and named rule and nothing stored; the controls accepted and stored as they say; the store bounded."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT_MAP, TestClient
from fake_dists import mamba_build
from hostile_wants import JSON_TYPE, WANT_CASES, WANT_CONTROLS, WantCase, with_

from index_server.app import create_app
from index_server.local import LocalIndex
from index_server.settings import IndexSettings
from index_server.storage.wants import WantStore


def _settings(data: Path, **extra: object) -> IndexSettings:
    return IndexSettings(data_dir=data, upstream_url=None, root_cuda_major=ROOT_MAP, **extra)  # type: ignore[arg-type]


def _hosting(tmp: Path, **extra: object) -> IndexSettings:
    settings = _settings(tmp / "data", **extra)
    LocalIndex(settings.data_dir, settings).ingest(
        mamba_build(tmp / "b", "13.0", "2.14", name="causal-conv1d", release="1.7.0")
    )
    return settings


@pytest.fixture(scope="module")
def wants_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    settings = _hosting(tmp_path_factory.mktemp("wants"))
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client, settings.wants_path


@pytest.mark.parametrize("case", WANT_CASES, ids=[c.param_id for c in WANT_CASES])
def test_hostile_want_is_refused_and_stores_nothing(case: WantCase, wants_app: tuple[TestClient, Path]) -> None:
    client, store = wants_app
    response = client.post(f"/wants/{case.project}", content=case.body, headers=case.headers)
    assert response.status_code == case.status, response.text
    assert f"[{case.rule}]" in response.text, response.text
    assert WantStore(store).wants() == []


def test_corpus_size() -> None:
    categories = {c.category for c in WANT_CASES}
    assert len(WANT_CASES) >= 60 and all(sum(c.category == k for c in WANT_CASES) >= 10 for k in categories)
    assert len({c.param_id for c in WANT_CASES}) == len(WANT_CASES)


@pytest.mark.parametrize(("body", "agent", "stored"), [c[1:] for c in WANT_CONTROLS], ids=[c[0] for c in WANT_CONTROLS])
def test_positive_control_is_recorded(
    body: bytes, agent: str | None, stored: tuple[str, str, str | None], tmp_path: Path
) -> None:
    settings = _hosting(tmp_path)
    headers = {**JSON_TYPE, **({"User-Agent": agent} if agent else {})}
    with TestClient(create_app(settings)) as client:
        response = client.post("/wants/causal-conv1d", content=body, headers=headers)
        assert response.status_code == 202, response.text
        assert response.json()["count"] == 1
        assert client.post("/wants/causal-conv1d", content=body, headers=headers).json()["count"] == 2
        (want,) = WantStore(settings.wants_path).wants()
    assert (want.key.release, want.key.platform, want.glibc) == stored
    assert (want.key.torch, want.key.cuda, want.key.python, want.count) == ("2.14.1", "13.0", "3.12", 2)


def test_the_store_is_bounded_but_known_tuples_still_count(tmp_path: Path) -> None:
    settings = _hosting(tmp_path, max_wants=3, max_wants_per_project=2)
    with TestClient(create_app(settings)) as client:
        answers = [
            client.post("/wants/causal-conv1d", content=with_(python=p), headers=JSON_TYPE)
            for p in ("3.10", "3.11", "3.12")
        ]
        assert [a.status_code for a in answers] == [202, 202, 429] and "[want-limit]" in answers[2].text
        again = client.post("/wants/causal-conv1d", content=with_(python="3.10"), headers=JSON_TYPE)
        assert again.status_code == 202 and again.json()["count"] == 2
    assert sorted(w.key.python for w in WantStore(settings.wants_path).wants()) == ["3.10", "3.11"]


def test_an_index_without_wants_records_none(tmp_path: Path) -> None:
    settings = _hosting(tmp_path, record_wants=False)
    with TestClient(create_app(settings)) as client:
        response = client.post("/wants/causal-conv1d", content=with_(), headers=JSON_TYPE)
        assert response.status_code == 404 and "[want-off]" in response.text
        sentinel = client.get("/files/causal-conv1d/causal_conv1d-0.0.0.tar.gz")
        assert b'"want_url": null' in gzip.decompress(sentinel.content)
