"""The app in-process: upload rules, Simple API behaviour, file headers, web pages, LocalIndex."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import TOKEN, TestClient
from fake_dists import mamba_build, sdist_bytes, wheel_bytes

from factory.cli import main as factory_main
from index_server.errors import FileConflict, InvalidDistribution
from index_server.local import LocalIndex

JSON = "application/vnd.pypi.simple.v1+json"
AUTH = ("__token__", TOKEN)


def _form(filename: str, data: bytes, **overrides: str | None) -> dict[str, Any]:
    fields: dict[str, str | None] = {
        ":action": "file_upload",
        "protocol_version": "1",
        "sha256_digest": hashlib.sha256(data).hexdigest(),
        "md5_digest": hashlib.md5(data).hexdigest(),
        "blake2_256_digest": hashlib.blake2b(data, digest_size=32).hexdigest(),
    }
    fields.update(overrides)
    return {
        "data": {k: v for k, v in fields.items() if v is not None},
        "files": {"content": (filename, data)},
    }


def test_upload_rules(client: TestClient) -> None:
    name, data = wheel_bytes("pkg", "1.0")
    r = client.post("/legacy/", **_form(name, data))
    assert r.status_code == 401 and "__token__" in r.text
    r = client.post("/legacy/", auth=("__token__", "wrong"), **_form(name, data))
    assert r.status_code == 403 and "not accepted" in r.text
    r = client.post("/legacy/", auth=("alice", TOKEN), **_form(name, data))
    assert r.status_code == 403 and "must be __token__" in r.text
    r = client.post("/legacy/", auth=AUTH, **_form(name, data, sha256_digest="0" * 64))
    assert r.status_code == 400 and "sha256_digest" in r.text and "does not match" in r.text
    r = client.post("/legacy/", auth=AUTH, **_form(name, data, blake2_256_digest="0" * 64))
    assert r.status_code == 400 and "blake2_256_digest" in r.text
    r = client.post("/legacy/", auth=AUTH, **_form(name, data, md5_digest="0" * 32))
    assert r.status_code == 400 and "md5_digest" in r.text
    r = client.post(
        "/legacy/",
        auth=AUTH,
        **_form(name, data, sha256_digest=None, md5_digest=None, blake2_256_digest=None),
    )
    assert r.status_code == 400 and "no sha256_digest" in r.text
    r = client.post("/legacy/", auth=AUTH, **_form(name, data, name="other"))
    assert r.status_code == 400 and "name='other'" in r.text
    r = client.post("/legacy/", auth=AUTH, **_form(name, data, **{":action": "submit"}))
    assert r.status_code == 400 and "file_upload" in r.text
    r = client.post("/legacy/", auth=AUTH, **_form(name, data))
    assert r.status_code == 200 and "stored" in r.text
    r = client.post("/legacy/", auth=AUTH, **_form(name, data))
    assert r.status_code == 200 and "identical" in r.text
    _, other = wheel_bytes("pkg", "1.0", files={"pkg/__init__.py": b"x = 2\n"})
    r = client.post("/legacy/", auth=AUTH, **_form(name, other))
    assert r.status_code == 409 and "immutable" in r.text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tamper": True}, "RECORD hash mismatch"),
        ({"metadata_name": "evil"}, "metadata Name"),
        ({"metadata_version": "2.0"}, "metadata Version"),
        ({"files": {"pkg/z.bin": b"\0" * (32 * 1024 * 1024)}}, "zip bomb"),
    ],
)
def test_upload_refuses_invalid_files(client: TestClient, kwargs: dict[str, Any], message: str) -> None:
    name, data = wheel_bytes("pkg", "1.0", **kwargs)
    r = client.post("/legacy/", auth=AUTH, **_form(name, data))
    assert r.status_code in (400, 413, 422) and message in r.text
    assert client.get("/simple/pkg/").status_code == 404  # nothing half-visible


def test_upload_of_garbage_and_wrong_names(client: TestClient) -> None:
    r = client.post("/legacy/", auth=AUTH, **_form("pkg-1.0-py3-none-any.whl", b"not a zip"))
    assert r.status_code == 422 and "not a zip archive" in r.text
    r = client.post("/legacy/", auth=AUTH, **_form("setup.exe", b"MZ"))
    assert r.status_code == 400 and "only wheels" in r.text


def _publish(local: LocalIndex, tmp_path: Path) -> None:
    for cuda, torch in (("12.8", "2.9"), ("13.0", "2.9"), ("13.0", "2.14")):
        local.ingest(mamba_build(tmp_path / "w", cuda, torch))
    name, data = sdist_bytes("einops", "0.8.0")
    (tmp_path / name).write_bytes(data)
    local.ingest(tmp_path / name)


def test_channels_and_simple_api(client: TestClient, local: LocalIndex, tmp_path: Path) -> None:
    _publish(local, tmp_path)
    root = client.get("/simple/mamba-ssm/", headers={"Accept": JSON}).json()
    cu13 = client.get("/cu13/simple/mamba-ssm/", headers={"Accept": JSON}).json()
    cu11 = client.get("/cu11/simple/mamba-ssm/", headers={"Accept": JSON}).json()
    names = lambda page: sorted(f["filename"].split("+")[-1] for f in page["files"])  # noqa: E731
    assert names(root) == [
        "cu.12.8.torch.2.9.abi.1-cp311-cp311-manylinux_2_28_x86_64.whl",
        "cu.13.0.torch.2.14.abi.1-cp311-cp311-manylinux_2_28_x86_64.whl",
        "mamba_ssm-0.0.0.tar.gz",
    ]
    assert len(cu13["files"]) == 3 and names(cu11) == ["mamba_ssm-0.0.0.tar.gz"]
    assert "0.0.0" in root["versions"] and root["meta"]["api-version"] == "1.1"
    wheel = root["files"][0]
    assert wheel["core-metadata"]["sha256"] and "dist-info-metadata" not in wheel
    assert wheel["url"].startswith("../../files/mamba-ssm/")  # relative to /simple/mamba-ssm/
    file_path = "/" + wheel["url"].removeprefix("../../")
    got = client.get(file_path + ".metadata")
    assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == wheel["core-metadata"]["sha256"]
    assert b"Requires-Dist: torch>=2.9,<2.10" in got.content or b"torch>=2.14" in got.content
    html = client.get("/simple/mamba-ssm/", headers={"Accept": "text/html"})
    assert html.headers["content-type"].startswith("text/html") and 'data-core-metadata="sha256=' in html.text
    assert 'name="pypi:repository-version" content="1.1"' in html.text
    assert client.get("/simple/", headers={"Accept": JSON}).json()["projects"] == [
        {"name": "einops"},
        {"name": "mamba-ssm"},
    ]


def test_names_errors_and_caching(client: TestClient, local: LocalIndex, tmp_path: Path) -> None:
    _publish(local, tmp_path)
    r = client.get("/simple/Mamba_SSM/")
    assert r.status_code == 301 and r.headers["location"] == "/simple/mamba-ssm/"
    r = client.get("/cu12/simple/Mamba.SSM/")
    assert r.status_code == 301 and r.headers["location"] == "/cu12/simple/mamba-ssm/"
    head = client.head("/simple/mamba-ssm/")
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"]
    assert client.get("/simple/no-such-thing/").status_code == 404
    assert client.get("/simple/torch/").status_code == 404
    assert client.get("/cu99/simple/mamba-ssm/").status_code == 404
    r = client.get("/simple/mamba-ssm/", headers={"Accept": "application/json"})
    assert r.status_code == 406 and "v1+json" in r.text
    r = client.get("/simple/mamba-ssm/")
    assert "max-age=60" in r.headers["cache-control"] and r.headers["vary"] == "Accept"
    assert client.get("/simple/mamba-ssm/", headers={"If-None-Match": r.headers["etag"]}).status_code == 304


def test_file_headers_range_and_yank(client: TestClient, local: LocalIndex, tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    _publish(local, tmp_path)
    record = local.files("einops")[0]
    url = f"/files/einops/{record.filename}"
    r = client.get(url)
    assert hashlib.sha256(r.content).hexdigest() == record.sha256
    assert "immutable" in r.headers["cache-control"] and r.headers["etag"] == f'"{record.sha256}"'
    r = client.get(url, headers={"Range": "bytes=0-9"})
    assert r.status_code == 206 and len(r.content) == 10
    assert client.get(url, headers={"If-None-Match": f'"{record.sha256}"'}).status_code == 304
    assert client.get("/files/einops/nothing-1.0.tar.gz").status_code == 404
    assert factory_main(["yank", "--data", str(settings.data_dir), record.filename, "--reason", "bad"]) == 0
    page = client.get("/simple/einops/", headers={"Accept": JSON}).json()
    assert page["files"][0]["yanked"] == "bad"
    assert 'data-yanked="bad"' in client.get("/simple/einops/").text
    assert factory_main(["unyank", "--data", str(settings.data_dir), record.filename]) == 0
    assert client.get("/simple/einops/", headers={"Accept": JSON}).json()["files"][0]["yanked"] is False
    assert factory_main(["yank", "--data", str(settings.data_dir), "nope-1.0.tar.gz"]) == 2


def test_local_index_interface(local: LocalIndex, tmp_path: Path, client: TestClient) -> None:
    wheel = mamba_build(tmp_path / "w", "13.0", "2.14")
    first = local.ingest(wheel)
    again = local.ingest(wheel)
    assert first.created and not again.created and first.sha256 == again.sha256
    (info,) = local.build_infos()
    assert info["filename"] == wheel.name and info["spec"]["torch"] == "2.14" and info["input_key"]
    other = tmp_path / "other" / wheel.name
    other.parent.mkdir()
    _name, data = wheel_bytes(
        "mamba-ssm",
        "2.3.2.post1+cu.13.0.torch.2.14.abi.1",
        tag="cp311-cp311-manylinux_2_28_x86_64",
        files={"mamba_ssm/x.py": b"1\n"},
    )
    other.write_bytes(data)
    with pytest.raises(FileConflict):
        local.ingest(other)
    bad = tmp_path / "pkg-1.0-py3-none-any.whl"
    bad.write_bytes(b"nope")
    with pytest.raises(InvalidDistribution):
        local.ingest(bad)
    assert not list((local.store.tmp).iterdir())
    log = tmp_path / "build.log"
    log.write_text("nvcc: error: out of memory\n")
    spec = info["spec"]
    report = {
        "run_id": "run-1",
        "started": "2026-01-01T00:00:00Z",
        "finished": "2026-01-01T01:00:00Z",
        "profile": None,
        "tuples": [
            {
                "id": spec["id"],
                "spec": spec,
                "outcome": "published",
                "stage": None,
                "cause": None,
                "message": None,
                "wheel": wheel.name,
                "seconds": 12.0,
            },
            {
                "id": spec["id"].replace("cp311", "cp312"),
                "spec": {**spec, "python": "3.12"},
                "outcome": "failed",
                "stage": "build",
                "cause": "nvcc",
                "message": "oom",
                "wheel": None,
                "seconds": 3.0,
            },
        ],
    }
    local.publish_report(report, {spec["id"].replace("cp311", "cp312"): log})
    page = client.get("/project/mamba-ssm/")
    assert page.status_code == 200 and "failed" in page.text and "published" in page.text
    log_url = f"/logs/run-1/{spec['id'].replace('cp311', 'cp312')}.log"
    assert log_url in page.text and client.get(log_url).text == "nvcc: error: out of memory\n"
    assert json.loads((local.data_dir / "reports" / "run-1" / "report.json").read_text())["run_id"] == "run-1"
    home = client.get("/")
    assert 'href="http://testserver/project/mamba-ssm/"' in home.text
    filtered = client.get("/project/mamba-ssm/?python=3.12")
    assert "Python 3.11" not in filtered.text and "Python 3.12" in filtered.text
