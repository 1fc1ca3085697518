"""Whatever the catalog holds (odd build records, rows edited by hand or by an attacker with the disk), the
pages render escaped without a 500, export-static stays inside --out, and fsck reports the rows."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT_MAP, TestClient
from fake_dists import build_spec_json, write_wheel

from factory.cli import main as factory_main
from index_server.app import create_app
from index_server.export import export_static
from index_server.local import LocalIndex
from index_server.settings import IndexSettings

JSON = "application/vnd.pypi.simple.v1+json"
HTML_BITS = ("<b>", "<script>", "<img")


def tamper(data: Path, **row: Any) -> None:
    """Insert one catalog row as an attacker with write access to the database would."""
    values: dict[str, Any] = {
        "filename": "evil-1.0-py3-none-any.whl",
        "project": "evil",
        "version": "1.0",
        "filetype": "bdist_wheel",
        "python_tag": "py3",
        "sha256": "0" * 64,
        "size": 10,
        "upload_time": "2026-01-01T00:00:00+00:00",
        "requires_python": None,
        "metadata_sha256": None,
        "yanked_reason": None,
        "build_info": None,
    }
    values.update(row)
    with sqlite3.connect(data / "catalog.sqlite3") as db:
        db.execute(f"INSERT INTO files VALUES ({','.join('?' * len(values))})", tuple(values.values()))


def odd_spec(**changes: Any) -> str:
    info = build_spec_json("1.0", "13.0", "2.14")
    info["spec"].update(package="evil", **changes)
    return json.dumps(info)


ODD_BUILD_INFOS = [
    odd_spec(python="<b>py</b>"),
    odd_spec(torch="<script>alert(1)</script>", cuda="<img src=x>"),
    odd_spec(cuda=13, torch=2.14, cxx11_abi="yes", version=["1"]),
    odd_spec(python=None, archs="<b>sm</b>"),
    json.dumps({"spec": "<b>not an object</b>", "input_key": {"x": "<b>"}}),
    json.dumps([1, 2, "<b>"]),
    json.dumps("<b>a string</b>"),
]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    LocalIndex(data).ingest(write_wheel(tmp_path / "w", "evil", "0.5"))
    return data


@pytest.mark.parametrize("build_info", ODD_BUILD_INFOS, ids=range(len(ODD_BUILD_INFOS)))
def test_pages_and_the_export_render_odd_build_records_escaped(build_info: str, data: Path, tmp_path: Path) -> None:
    tamper(
        data,
        build_info=build_info,
        python_tag="cp311",
        version="1.0+cu.13.0.torch.2.14.abi.1",
        filename="evil-1.0+cu.13.0.torch.2.14.abi.1-cp311-cp311-linux_x86_64.whl",
    )
    settings = IndexSettings(data_dir=data, upstream_url=None, root_cuda_major=ROOT_MAP)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        for url in ("/", "/project/evil/", "/simple/evil/", "/cu13/simple/evil/", "/simple/"):
            for accept in ("text/html", JSON):
                answer = client.get(url, headers={"Accept": accept})
                assert answer.status_code == 200, (url, answer.text[:500])
                if "html" in answer.headers["content-type"]:
                    assert not [bit for bit in HTML_BITS if bit in answer.text], answer.text
    index = LocalIndex(data, settings)
    export_static(index, tmp_path / "out", "")
    assert (tmp_path / "out" / "index.html").is_file()
    assert (tmp_path / "out" / "project" / "evil" / "index.html").is_file()


HOSTILE_ROWS: list[dict[str, Any]] = [
    {"project": "../../outside", "filename": "outside-1.0-py3-none-any.whl"},
    {"project": "..", "filename": "x-1.0-py3-none-any.whl"},
    {"project": "evil", "filename": "../../../outside.whl"},
    {"project": "evil/../../outside", "filename": "evil-2.0-py3-none-any.whl"},
    {"project": "evil", "filename": "evil-3.0-py3-none-any.whl", "upload_time": "not a time"},
    {"project": "evil", "filename": "evil-4.0-py3-none-any.whl", "build_info": "{not json"},
    {"project": "evil", "filename": "evil-5.0-py3-none-any.whl", "size": "big"},
]


@pytest.mark.parametrize("row", HOSTILE_ROWS, ids=range(len(HOSTILE_ROWS)))
def test_export_static_stays_inside_out_and_reports_a_hostile_row(
    row: dict[str, Any], data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(data, **row)
    out = tmp_path / "deep" / "er" / "out"
    before = {p for p in tmp_path.rglob("*")}
    code = factory_main(["export-static", "--data", str(data), "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 1, printed
    written = {p for p in tmp_path.rglob("*")} - before
    assert written and all(p == out or out in p.parents or p in out.parents for p in written), sorted(written)
    assert "skipped" in printed.out and row["filename"][:20] in printed.out
    assert (out / "simple" / "evil" / "index.html").is_file()  # the sound rows were exported
    assert (out / "index.html").is_file()


def test_export_static_stays_inside_out_for_a_hostile_run_id(data: Path, tmp_path: Path) -> None:
    with sqlite3.connect(data / "catalog.sqlite3") as db:
        body = {"run_id": "../../../outside", "started": "s", "finished": "f", "tuples": []}
        db.execute("INSERT INTO reports VALUES (?,?,?)", ("../../../outside", "f", json.dumps(body)))
    (data / "outside" / "logs").mkdir(parents=True)
    (data / "outside" / "logs" / "x.log").write_text("secret")
    out = tmp_path / "out"
    export_static(LocalIndex(data), out, "")
    assert not (tmp_path / "logs").exists() and not (out.parent / "logs").exists()
    assert (out / "index.html").is_file()


@pytest.mark.parametrize("row", HOSTILE_ROWS, ids=range(len(HOSTILE_ROWS)))
def test_fsck_reports_a_hostile_row_instead_of_crashing(
    row: dict[str, Any], data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(data, **row)
    code = factory_main(["fsck", "--data", str(data)])
    out = capsys.readouterr().out
    assert code == 1 and "bad-row" in out and "never served" in out, out
    code = factory_main(["fsck", "--data", str(data), "--repair"])
    out = capsys.readouterr().out
    assert code == 1 and "not repaired automatically" in out, out  # never guessed at
    assert (data / "files" / "evil" / "evil-0.5-py3-none-any.whl").is_file()


@pytest.mark.parametrize("row", HOSTILE_ROWS, ids=range(len(HOSTILE_ROWS)))
def test_the_server_answers_beside_a_hostile_row(row: dict[str, Any], data: Path) -> None:
    tamper(data, **row)
    settings = IndexSettings(data_dir=data, upstream_url=None, root_cuda_major=ROOT_MAP)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        for url in ("/", "/simple/", "/simple/evil/", "/project/evil/", "/files/evil/evil-0.5-py3-none-any.whl"):
            assert client.get(url).status_code == 200, url
        filename = row["filename"].replace("/", "%2F")
        assert client.get(f"/files/{row['project'].replace('/', '%2F')}/{filename}").status_code == 404


def test_fsck_and_export_never_follow_a_symlink_out_of_files(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not the index's")
    shutil.move(data / "files" / "evil", outside / "evil")  # a stored project's folder, now a link out
    (data / "files" / "evil").symlink_to(outside / "evil")
    (data / "files" / "linked").symlink_to(outside)  # and a link that no row names
    code = factory_main(["fsck", "--data", str(data), "--repair"])
    out = capsys.readouterr().out
    assert code == 1 and "outside-files" in out and "symlink:" in out, out
    assert sorted(p.name for p in outside.iterdir()) == ["evil", "secret.txt"]
    assert (outside / "evil" / "evil-0.5-py3-none-any.whl").is_file()
    code = factory_main(["export-static", "--data", str(data), "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 1 and "resolves outside" in out, out
    assert not list((tmp_path / "out").rglob("*.whl"))
