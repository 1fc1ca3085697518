"""The hostile corpus against the app in-process: each case refused with its status and named rule,
nothing stored or left behind; and per category, positive controls that the same rules accept."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT_MAP, TOKEN, TestClient
from hostile_builders import Member, TarMember, WheelSpec, sdist
from hostile_corpus import CASES, CATEGORIES, CORPUS_UPLOAD_LIMIT, Built, Case, with_build_info

from index_server.app import create_app
from index_server.sentinel import build_sentinel
from index_server.settings import IndexSettings, Limits
from index_server.storage.catalog import Catalog

JSON = "application/vnd.pypi.simple.v1+json"
MAX_REFUSAL = 2048  # bytes of a refusal's body, whatever names the file holds
LIMITS = Limits(max_upload_bytes=CORPUS_UPLOAD_LIMIT, max_uncompressed_bytes=6 * 1024 * 1024, max_members=250)


def corpus_settings(data: Path) -> IndexSettings:
    return IndexSettings(
        data_dir=data, upload_tokens=frozenset({TOKEN}), upstream_url=None, root_cuda_major=ROOT_MAP, limits=LIMITS
    )


def post(
    client: TestClient, filename: str, data: bytes, form: dict[str, str | None], headers: dict[str, str] | None
) -> Any:
    fields: dict[str, str | None] = {
        ":action": "file_upload",
        "protocol_version": "1",
        "sha256_digest": hashlib.sha256(data).hexdigest(),
        "md5_digest": hashlib.md5(data).hexdigest(),
        "blake2_256_digest": hashlib.blake2b(data, digest_size=32).hexdigest(),
    }
    fields.update(form)
    files = None if "content" in form else {"content": (filename, data)}
    fields.pop("content", None)
    return client.post(
        "/legacy/",
        data={k: v for k, v in fields.items() if v is not None},
        files=files,
        auth=("__token__", TOKEN) if headers is None else None,
        headers=headers or {},
    )


@pytest.fixture(scope="module")
def spool_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """TMPDIR of this module's requests, where starlette spools uploads."""
    path = tmp_path_factory.mktemp("spool")
    saved, tempfile.tempdir = tempfile.tempdir, str(path)
    yield path
    tempfile.tempdir = saved


@pytest.fixture(scope="module")
def corpus_app(tmp_path_factory: pytest.TempPathFactory, spool_dir: Path) -> Iterator[tuple[TestClient, Path]]:
    data = tmp_path_factory.mktemp("corpus") / "data"
    with TestClient(create_app(corpus_settings(data)), follow_redirects=False) as client:
        yield client, data


def stored_anything(data: Path, spool: Path) -> list[str]:
    """Everything an upload may have left: catalog rows, files, temporaries, spooled uploads."""
    left = [f"row {r.filename}" for r in Catalog(data / "catalog.sqlite3").files()]
    left += [f"file {p}" for p in (data / "files").rglob("*") if p != data / "files" / ".tmp"]
    left += [f"spool {p}" for p in spool.iterdir()]
    fds = Path("/proc/self/fd")
    if fds.is_dir():  # a spooled upload still open, even if already unlinked
        for fd in fds.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            # the catalog database itself stays open: the page cache watches it for commits
            catalog = str(data / "catalog.sqlite3")
            if target.startswith((str(spool), str(data))) and not target.startswith(catalog):
                left.append(f"open {target}")
    return left


@pytest.mark.parametrize("case", CASES, ids=[c.param_id for c in CASES])
def test_hostile_upload_is_refused_and_leaves_nothing(
    case: Case, corpus_app: tuple[TestClient, Path], spool_dir: Path
) -> None:
    client, data = corpus_app
    filename, body = case.build()
    response = post(client, filename, body, case.form, case.headers)
    assert response.status_code == case.status, response.text[:2000]
    assert f"[{case.rule}]" in response.text, response.text[:2000]
    assert len(response.content) <= MAX_REFUSAL, f"a {len(response.content)}-byte refusal: {response.text[:200]}"
    assert TOKEN not in response.text  # whatever field the token was sent in
    assert stored_anything(data, spool_dir) == []
    assert client.get("/simple/pkg/").status_code == 404


def test_corpus_size() -> None:
    counts = {c: sum(1 for case in CASES if case.category == c) for c in CATEGORIES}
    assert len(CASES) >= 200 and min(counts.values()) >= 10, counts
    assert set(CATEGORIES) == set(CONTROLS_BY_CATEGORY)


def _wheel(**kwargs: Any) -> Callable[[], Built]:
    return lambda: WheelSpec(**kwargs).build_bytes()


def _sentinel_shaped() -> Built:
    """The index's own sentinel sdist, renamed: a minimal PAX sdist with fixed modes and mtimes."""
    import gzip
    import io
    import tarfile

    out = io.BytesIO()
    raw = io.BytesIO(gzip.decompress(build_sentinel("pkg", "http://h/")))
    with tarfile.open(fileobj=raw) as src, tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name.endswith("PKG-INFO"):
                data = data.replace(b"0.0.0", b"1.0")
            member.name = member.name.replace("pkg-0.0.0", "pkg-1.0")
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    return "pkg-1.0.tar.gz", out.getvalue()


CONTROLS_BY_CATEGORY: dict[str, list[tuple[str, Callable[[], Built], dict[str, str | None]]]] = {
    "paths": [
        (
            "top-level-packages",
            _wheel(
                members=[
                    Member(name="pkg/__init__.py"),
                    Member(name="pkg/sub/mod.py"),
                    Member(name="other_top/__init__.py"),
                ]
            ),
            {},
        ),
        (
            "auditwheel-libs",
            _wheel(
                tag="cp311-cp311-manylinux_2_28_x86_64",
                members=[
                    Member(name="pkg/_ext.so"),
                    Member(name="pkg.libs/libgomp-a34b3233.so.1.0.0", mode=stat.S_IFREG | 0o755),
                ],
            ),
            {},
        ),
        (
            "data-folders",
            _wheel(
                members=[
                    Member(name="pkg/__init__.py"),
                    *(Member(name=f"pkg-1.0.data/{d}/f") for d in ("purelib", "platlib", "scripts", "headers", "data")),
                ]
            ),
            {},
        ),
        (
            "sdist-nested",
            lambda: sdist(
                members=[TarMember(name="pkg-1.0/src/pkg/__init__.py"), TarMember(name="pkg-1.0/src", type=b"5")]
            ),
            {},
        ),
    ],
    "names": [
        ("build-tag", _wheel(build="2"), {}),
        ("local-version", _wheel(version="1.0+cu.13.0.torch.2.14.abi.1", tag="cp311-cp311-manylinux_2_28_x86_64"), {}),
        ("dotted-name", _wheel(name="pkg.name_x"), {}),
        ("sdist", lambda: sdist(), {}),
    ],
    "tags": [
        ("py2-py3", _wheel(tag="py2.py3-none-any"), {}),
        ("abi3-manylinux2014", _wheel(tag="cp311-abi3-manylinux2014_aarch64"), {}),
        ("multi-platform", _wheel(tag="cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"), {}),
        ("musllinux", _wheel(tag="cp312-cp312-musllinux_1_2_x86_64"), {}),
        ("macosx", _wheel(tag="cp312-cp312-macosx_11_0_arm64"), {}),
        ("windows", _wheel(tag="cp313-cp313t-win_amd64"), {}),
        ("manylinux1", _wheel(tag="cp39-cp39-manylinux1_x86_64"), {}),
        ("factory-repaired", _wheel(tag="cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64", build="2"), {}),
    ],
    "metadata": [
        ("name-spelling", _wheel(metadata="Metadata-Version: 2.1\nName: PKG\nVersion: 1.0\n"), {}),
        ("version-spelling", _wheel(metadata="Metadata-Version: 2.1\nName: pkg\nVersion: 1.0.0\n"), {}),
        (
            "build-info",
            _wheel(
                members=[
                    Member(name="pkg/__init__.py"),
                    Member(name="pkg-1.0.dist-info/factory_build.json", data=b'{"input_key": "k"}'),
                ]
            ),
            {},
        ),
    ],
    "build-info": [
        ("factory-record", with_build_info(), {}),
        ("torch-stand-in", with_build_info(lambda i: i["spec"].__setitem__("torch_stand_in_for", "2.14.1+cu132")), {}),
        ("keys-the-contract-does-not-declare", with_build_info(lambda i: i.__setitem__("inputs", {"k": [1]})), {}),
    ],
    "long-names": [
        ("long-member-name", _wheel(members=[Member(name="pkg/" + "m" * 200 + ".py")]), {}),
        (
            "large-metadata",
            _wheel(metadata="Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\nDescription: " + "d" * 300_000 + "\n"),
            {},
        ),
    ],
    "archives": [
        (
            "directory-entries",
            _wheel(
                members=[
                    Member(name="pkg/", data=b"", mode=stat.S_IFDIR | 0o755),
                    Member(name="pkg/__init__.py", mode=stat.S_IFREG | 0o755),
                ]
            ),
            {},
        ),
        ("no-unix-modes", _wheel(members=[Member(name="pkg/__init__.py", mode=0)]), {}),
        ("sentinel-shaped-sdist", _sentinel_shaped, {}),
    ],
    "digests": [
        ("sha256-only", _wheel(), {"md5_digest": None, "blake2_256_digest": None}),
        ("blake2-only", _wheel(), {"md5_digest": None, "sha256_digest": None}),
        ("all-three", _wheel(), {}),
    ],
    "form": [
        (
            "twine-wheel",
            _wheel(name="pkg-name", tag="py2.py3-none-any"),
            {"name": "pkg-name", "version": "1.0", "filetype": "bdist_wheel", "pyversion": "py2.py3"},
        ),
        (
            "uv-wheel",
            _wheel(name="pkg_name", tag="cp311-cp311-manylinux_2_28_x86_64"),
            {"name": "Pkg_Name", "version": "1.0", "filetype": "bdist_wheel", "pyversion": "cp311"},
        ),
        (
            "twine-sdist",
            lambda: sdist(name="pkg-name"),
            {"name": "pkg-name", "version": "1.0", "filetype": "sdist", "pyversion": "source"},
        ),
        (
            "poetry-version",
            _wheel(),
            {"name": "pkg", "version": "1.0.0", "filetype": "bdist_wheel", "pyversion": "py3"},
        ),
    ],
    "auth": [("valid-token", _wheel(), {})],
}
CONTROLS = [(cat, i, b, f) for cat, items in CONTROLS_BY_CATEGORY.items() for i, b, f in items]


@pytest.mark.parametrize(
    ("category", "build", "form"), [(c, b, f) for c, _, b, f in CONTROLS], ids=[f"{c}-{i}" for c, i, _, _ in CONTROLS]
)
def test_positive_control_is_accepted_and_served(
    category: str, build: Callable[[], Built], form: dict[str, str | None], tmp_path: Path
) -> None:
    filename, body = build()
    with TestClient(create_app(corpus_settings(tmp_path / "data")), follow_redirects=False) as client:
        response = post(client, filename, body, form, None)
        assert response.status_code == 200, response.text
        project = Catalog(tmp_path / "data" / "catalog.sqlite3").files()[0].project
        page = client.get(f"/simple/{project}/", headers={"Accept": JSON}).json()
        (link,) = [f for f in page["files"] if f["filename"] == filename]
        download = client.get(f"/files/{project}/{filename}")
        assert download.status_code == 200 and hashlib.sha256(download.content).hexdigest() == link["hashes"]["sha256"]
        assert list((tmp_path / "data" / "files" / ".tmp").iterdir()) == []
