"""Wants through the app: a report listed on the project page with its count and the plan's verdict, served
once a fitting wheel is ingested; the sentinel names the builds and the want URL, and its hash is the link's."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

from conftest import ROOT_MAP, TestClient
from fake_dists import spec_wheel
from hostile_wants import JSON_TYPE, with_
from packaging.version import Version
from spec_builders import make_spec

from factory.plan.knowledge import load_knowledge
from factory.plan.matrix import Profile, load_matrix
from factory.plan.recipes import load_recipes
from factory.plan.wanted import widen
from index_server.app import create_app
from index_server.local import LocalIndex
from index_server.settings import IndexSettings
from index_server.wants import Want

REPO = Path(__file__).resolve().parents[2]
CP311 = make_spec(package="causal-conv1d", version=Version("1.7.0"))
CP312 = make_spec(package="causal-conv1d", version=CP311.version, python="3.12")


def _app(tmp: Path, judged: bool = True) -> tuple[IndexSettings, LocalIndex]:
    plan = widen(load_matrix(REPO / "matrix.toml"), load_knowledge(None), load_recipes(None), Profile(name="full"))
    settings = IndexSettings(
        data_dir=tmp / "data", upstream_url=None, root_cuda_major=ROOT_MAP, want_plan=plan.table if judged else None
    )
    local = LocalIndex(settings.data_dir, settings)
    local.ingest(spec_wheel(tmp / "b", CP311))
    return settings, local


def _wanted_section(client: TestClient) -> str:
    page = client.get("/project/causal-conv1d/").text
    return page[page.index('id="wanted"') : page.index("</table>", page.index('id="wanted"'))]


def test_a_report_is_listed_judged_and_served_once_its_wheel_is_in(tmp_path: Path) -> None:
    settings, local = _app(tmp_path)
    with TestClient(create_app(settings)) as client:
        for _ in range(2):
            assert client.post("/wants/causal-conv1d", content=with_(), headers=JSON_TYPE).status_code == 202
        no_torch = with_(torch="2.2.0")
        assert client.post("/wants/causal-conv1d", content=no_torch, headers=JSON_TYPE).status_code == 202
        section = _wanted_section(client)
        rows = section.split("<tr class=")[1:]
        assert rows[0].startswith('"buildable"') and "torch 2.14 + CUDA 13.0 + C++11 ABI + cp312" in rows[0]
        assert "<td>2</td>" in rows[0] and "the plan can build it (causal-conv1d 1.7.0)" in rows[0]
        assert (
            rows[1].startswith('"not-buildable"') and "torch 2.2 is not in the factory&#39;s knowledge table" in rows[1]
        )
        local.ingest(spec_wheel(tmp_path / "b", CP312))
        section = _wanted_section(client)
        served = section.split("<tr class=")[-1]
        assert served.startswith('"served"') and f"served by {CP312.package.replace('-', '_')}-1.7.0+" in served
        assert client.post("/wants/causal-conv1d", content=with_(), headers=JSON_TYPE).json()["count"] == 3
        assert "asked again since" in _wanted_section(client)
        listed = [Want.from_json(w) for w in client.get("/wants/").json()["wants"]]
        assert [(w.key.torch, w.count, w.served_by is not None) for w in listed] == [
            ("2.14.1", 3, True),
            ("2.2.0", 1, False),
        ]


def test_unjudged_without_a_plan(tmp_path: Path) -> None:
    settings, _ = _app(tmp_path, judged=False)
    with TestClient(create_app(settings)) as client:
        client.post("/wants/causal-conv1d", content=with_(), headers=JSON_TYPE)
        assert "started without the factory&#39;s matrix" in _wanted_section(client)


def test_the_sentinel_names_the_builds_and_the_want_url_and_matches_its_link(tmp_path: Path) -> None:
    settings, _ = _app(tmp_path)
    with TestClient(create_app(settings)) as client:
        page = client.get("/simple/causal-conv1d/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}).json()
        (link,) = [f for f in page["files"] if f["filename"] == "causal_conv1d-0.0.0.tar.gz"]
        data = client.get("/files/causal-conv1d/causal_conv1d-0.0.0.tar.gz").content
    assert hashlib.sha256(data).hexdigest() == link["hashes"]["sha256"]
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        config = json.load(tar.extractfile("causal_conv1d-0.0.0/factory_sentinel.json"))  # type: ignore[arg-type]
    assert config["want_url"] == "http://testserver/wants/causal-conv1d"
    assert config["builds"] == [
        {
            "version": "1.7.0",
            "torch": "2.14",
            "cuda": "13.0",
            "abi": True,
            "python": "3.11",
            "channels": ["/simple/", "/cu13/simple/"],
        }
    ]


def test_the_plan_reaches_worker_processes(tmp_path: Path) -> None:
    from index_server.worker_entry import settings_from_json, settings_to_json

    settings, _ = _app(tmp_path)
    assert settings.want_plan is not None and settings_from_json(settings_to_json(settings)) == settings
