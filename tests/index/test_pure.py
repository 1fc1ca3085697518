"""Pure pieces: negotiation, channels, settings patterns, rendering, sentinel, matrix."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import UTC, datetime

import pytest
from packaging.utils import NormalizedName

from index_server.pages.channels import ROOT, Channel, in_channel
from index_server.pages.matrix import NEWEST, build_matrix, filter_matrix
from index_server.pages.negotiate import negotiate
from index_server.pages.simple import Link, ProjectPage, render_project_html, render_project_json
from index_server.pages.web import render_project
from index_server.sentinel import build_sentinel, sentinel_filename
from index_server.settings import IndexSettings
from index_server.storage.catalog import FileRecord
from index_server.upstream import parse_html_page

PIP_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (PIP_ACCEPT, ("application/vnd.pypi.simple.v1+json", "json")),
        ("text/html", ("text/html", "html")),
        ("*/*", ("text/html", "html")),
        (None, ("text/html", "html")),
        ("application/vnd.pypi.simple.latest+json", ("application/vnd.pypi.simple.v1+json", "json")),
        (
            "application/vnd.pypi.simple.v1+html, application/vnd.pypi.simple.v1+json;q=0.5",
            ("application/vnd.pypi.simple.v1+html", "html"),
        ),
        ("application/json", None),
        ("application/vnd.pypi.simple.v2+json", None),
        ("text/html;q=0", None),
    ],
)
def test_negotiate(accept: str | None, expected: tuple[str, str] | None) -> None:
    assert negotiate(accept) == expected


ROOT_MAP = {"2.9": 12, "2.14": 13}


@pytest.mark.parametrize(
    ("version", "channel", "expected"),
    [
        ("1.0+cu.12.8.torch.2.9.abi.1", ROOT, True),
        ("1.0+cu.13.0.torch.2.9.abi.1", ROOT, False),
        ("1.0+cu.13.0.torch.2.14.abi.1", ROOT, True),
        ("1.0+cu.13.0.torch.2.14.abi.1", Channel(13), True),
        ("1.0+cu.13.0.torch.2.14.abi.1", Channel(12), False),
        ("1.0+cu.12.8.torch.2.99.abi.1", ROOT, False),
        ("1.0", Channel(11), True),
        ("1.0", ROOT, True),
    ],
)
def test_channels(version: str, channel: Channel, expected: bool) -> None:
    assert in_channel(version, channel, ROOT_MAP) is expected


def test_channel_parse() -> None:
    assert Channel.parse("cu12").prefix == "cu12/"
    with pytest.raises(ValueError, match="unknown channel"):
        Channel.parse("cu99")


def test_never_upstream_patterns(tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = IndexSettings(data_dir=tmp_path, root_cuda_major={})
    assert s.blocks_upstream("torch") and s.blocks_upstream("TorchVision")
    # mamba-ssm's dependency chain needs nvidia-cutlass-dsl from upstream; torch pins its own CUDA libraries
    assert not s.blocks_upstream("einops") and not s.blocks_upstream("nvidia-cutlass-dsl")
    strict = IndexSettings(data_dir=tmp_path, root_cuda_major={}, never_upstream=("torch", "nvidia-*"))
    assert strict.blocks_upstream("NVIDIA_cudnn.cu12") and not strict.blocks_upstream("torchvision")


def _link(**kwargs: object) -> Link:
    base: dict[str, object] = {
        "filename": "p-1.0-py3-none-any.whl",
        "url": "../../files/p/p-1.0-py3-none-any.whl",
        "hashes": {"sha256": "ab"},
        "size": 10,
        "upload_time": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    }
    base.update(kwargs)
    return Link(**base)  # type: ignore[arg-type]


def test_json_uses_core_metadata_only_and_pep700_fields() -> None:
    page = ProjectPage(
        name="p", links=(_link(core_metadata={"sha256": "cd"}, requires_python=">=3.9", yanked="broken"),)
    )
    body = json.loads(render_project_json(page))
    entry = body["files"][0]
    assert body["meta"]["api-version"] == "1.1" and body["versions"] == ["1.0"]
    assert entry["core-metadata"] == {"sha256": "cd"} and "dist-info-metadata" not in entry
    assert entry["yanked"] == "broken" and entry["size"] == 10
    assert entry["upload-time"] == "2026-01-02T03:04:05.000000Z"


def test_html_round_trips_through_the_upstream_parser() -> None:
    link = _link(core_metadata={"sha256": "cd"}, requires_python=">=3.9,<4", yanked="")
    html = render_project_html(ProjectPage(name="p", links=(link,)))
    assert 'data-core-metadata="sha256=cd"' in html and 'data-dist-info-metadata="sha256=cd"' in html
    assert 'data-requires-python="&gt;=3.9,&lt;4"' in html and "#sha256=ab" in html
    (parsed,) = parse_html_page("p", html, "http://x/simple/p/").links
    assert parsed.url == "http://x/files/p/p-1.0-py3-none-any.whl"
    assert (parsed.hashes, parsed.requires_python, parsed.core_metadata, parsed.yanked) == (
        {"sha256": "ab"},
        ">=3.9,<4",
        {"sha256": "cd"},
        "",
    )


def test_sentinel_is_deterministic_and_refuses_to_build() -> None:
    data = build_sentinel("mamba-ssm", "http://h/project/mamba-ssm/")
    assert data == build_sentinel("mamba-ssm", "http://h/project/mamba-ssm/")
    assert sentinel_filename("mamba-ssm") == "mamba_ssm-0.0.0.tar.gz"
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        backend = tar.extractfile("mamba_ssm-0.0.0/factory_sentinel_backend.py").read().decode()  # type: ignore[union-attr]
        config = json.load(tar.extractfile("mamba_ssm-0.0.0/factory_sentinel.json"))  # type: ignore[arg-type]
        assert "requires = []" in tar.extractfile("mamba_ssm-0.0.0/pyproject.toml").read().decode()  # type: ignore[union-attr]
    assert config == {"project": "mamba-ssm", "page": "http://h/project/mamba-ssm/", "want_url": None, "builds": []}
    namespace: dict[str, object] = {}
    exec(compile(backend, "factory_sentinel_backend.py", "exec"), namespace)  # every hook refuses (test_sentinel.py)
    hooks = ("get_requires_for_build_wheel", "build_wheel", "build_sdist", "prepare_metadata_for_build_wheel")
    assert all(namespace[h] is namespace["_refuse"] for h in hooks)


def _record(version: str, python_tag: str = "cp311", minutes: int = 0, project: str = "mamba-ssm") -> FileRecord:
    return FileRecord(
        filename=f"{project.replace('-', '_')}-{version}-{python_tag}.whl",
        project=NormalizedName(project),
        version=version,
        filetype="bdist_wheel",
        python_tag=python_tag,
        sha256="00",
        size=2048,
        upload_time=datetime(2026, 1, 1, 0, minutes, tzinfo=UTC),
        requires_python=None,
        metadata_sha256="11",
        yanked_reason=None,
        build_info=None,
    )


def test_matrix_combines_files_and_reports() -> None:
    report = {
        "run_id": "r1",
        "tuples": [
            {
                "id": "mamba-ssm-2.3.2-cu12.8-torch2.9-cp312-abi1",
                "outcome": "failed",
                "cause": "nvcc",
                "log": True,
                "spec": {
                    "package": "mamba-ssm",
                    "version": "2.3.2",
                    "cuda": "12.8",
                    "torch": "2.9",
                    "python": "3.12",
                    "cxx11_abi": True,
                },
            }
        ],
    }
    records = [
        _record("2.3.2+cu.12.8.torch.2.9.abi.1"),
        _record("2.3.2+cu.13.0.torch.2.14.abi.1"),
        _record("2.3.1+cu.12.8.torch.2.9.abi.1"),
    ]
    m = build_matrix("mamba-ssm", records, [report])
    assert m.version == "2.3.2" and m.versions == ["2.3.2", "2.3.1"] and m.pythons == ["3.11", "3.12"]
    rows = {k.label: cells for k, cells in m.rows.items()}
    assert list(rows) == ["torch 2.14 · CUDA 13.0 · abi1", "torch 2.9 · CUDA 12.8 · abi1"]
    assert rows["torch 2.9 · CUDA 12.8 · abi1"]["3.12"].status == "failed"
    assert rows["torch 2.9 · CUDA 12.8 · abi1"]["3.11"].file is not None
    only13 = filter_matrix(m, torch=None, cuda="13", python="3.11")
    assert [k.label for k in only13.rows] == ["torch 2.14 · CUDA 13.0 · abi1"] and only13.pythons == ["3.11"]
    html = render_project(m, "http://h", {"torch": None, "cuda": None, "python": None}, ROOT_MAP)
    assert "in /simple/ and /cu12/simple/" in html and "in /cu13/simple/" not in html
    assert 'href="http://h/logs/r1/mamba-ssm-2.3.2-cu12.8-torch2.9-cp312-abi1.log"' in html
    assert "pip install mamba-ssm --index-url http://h/cu13/simple" in html and "2.0 KB" in html


def test_the_page_says_which_releases_exist_for_a_torch_and_why_the_others_do_not() -> None:
    spec = {"package": "causal-conv1d", "version": "1.7.0", "cuda": "13.0", "torch": "2.14", "python": "3.11",
            "cxx11_abi": True}  # fmt: skip
    report = {
        "run_id": "r1",
        "tuples": [{"id": "causal-conv1d-1.7.0-cu13.0-torch2.14-cp311-abi1", "outcome": "published", "spec": spec}],
        "dropped": [
            {"package": "causal-conv1d", "version": "1.4.0", "torch": "2.14",
             "reason": "the sdist has no CUDA sources"},
            {"package": "causal-conv1d", "version": "1.5.3.post1", "torch": "2.9", "cuda": "12.8", "python": "3.12",
             "reason": "learned: fails to compile"},
            {"package": "mamba-ssm", "version": "2.2.4", "torch": "2.14", "reason": "not this project"},
            {"package": "causal-conv1d", "version": "1.5.0.post8", "torch": "*", "reason": "no CUDA sources"},
            {"package": "causal-conv1d", "version": "not a version", "torch": "2.14", "reason": "ignored"},
        ],
    }  # fmt: skip
    records = [
        _record("1.7.0+cu.13.0.torch.2.14.abi.1", project="causal-conv1d", python_tag="cp311"),
        _record("1.5.3.post1+cu.13.0.torch.2.14.abi.1", project="causal-conv1d", python_tag="cp311"),
    ]
    m = build_matrix("causal-conv1d", records, [report])
    assert m.version == "1.7.0" and m.versions == ["1.7.0", "1.5.3.post1", "1.5.0.post8", "1.4.0"]  # every release
    by_version = {r.version: r for r in filter_matrix(m, torch="2.14", cuda=None, python=None).releases}
    assert by_version["1.7.0"].wheels == 1 and by_version["1.7.0"].reasons == []
    assert (
        by_version["1.5.3.post1"].wheels == 1 and by_version["1.5.3.post1"].reasons == []
    )  # torch 2.9's is not 2.14's
    assert by_version["1.4.0"].wheels == 0 and by_version["1.4.0"].reasons == [
        "torch 2.14: the sdist has no CUDA sources"
    ]
    on_29 = {r.version: r for r in filter_matrix(m, torch="2.9", cuda="12", python="3.12").releases}
    assert on_29["1.5.3.post1"].reasons == ["torch 2.9: learned: fails to compile"] and on_29["1.7.0"].wheels == 0
    assert on_29["1.4.0"].reasons == []
    assert by_version["1.5.0.post8"].reasons == on_29["1.5.0.post8"].reasons == ["every torch: no CUDA sources"]
    html = render_project(
        filter_matrix(m, torch="2.14", cuda=None, python=None), "http://h", {"torch": "2.14", "cuda": None,
        "python": None}, ROOT_MAP,
    )  # fmt: skip
    assert "Releases for torch 2.14" in html and "torch 2.14: the sdist has no CUDA sources" in html
    assert '<option value="1.4.0">1.4.0</option>' in html and "not this project" not in html
    # a later run of the project whose plan no longer drops 1.4.0 (say its row left compat.toml) clears that
    later = {"run_id": "r2", "tuples": report["tuples"], "dropped": []}
    assert build_matrix("causal-conv1d", records, [report, later]).dropped == []
    assert build_matrix("causal-conv1d", records, [report, {"run_id": "r0", "tuples": []}]).dropped != []


def test_unchanged_run_keeps_the_log_of_the_build() -> None:
    spec = {"package": "mamba-ssm", "version": "2.3.2", "cuda": "13.0", "torch": "2.14", "python": "3.11",
            "cxx11_abi": True}  # fmt: skip
    tid = "mamba-ssm-2.3.2-cu13.0-torch2.14-cp311-abi1"
    built = {"run_id": "r1", "tuples": [{"id": tid, "outcome": "published", "log": True, "spec": spec}]}
    again = {"run_id": "r2", "tuples": [{"id": tid, "outcome": "unchanged", "log": False, "spec": spec}]}
    m = build_matrix("mamba-ssm", [_record("2.3.2+cu.13.0.torch.2.14.abi.1", python_tag="cp311")], [built, again])
    (cells,) = m.rows.values()
    assert cells["3.11"].status == "published" and cells["3.11"].has_log and cells["3.11"].run_id == "r1"


def test_the_newest_view_shows_per_torch_the_release_pip_would_install() -> None:
    def spec(version: str, torch: str) -> dict[str, object]:
        return {"package": "mamba-ssm", "version": version, "cuda": "12.4", "torch": torch, "python": "3.10",
                "cxx11_abi": False}  # fmt: skip

    report = {
        "run_id": "r1",
        "tuples": [  # the newest release cannot be installed beside torch 2.6; 2.3.1 can
            {"id": "a", "outcome": "failed", "cause": "dependency-conflict", "spec": spec("2.3.2.post1", "2.6")},
            {"id": "b", "outcome": "published", "spec": spec("2.3.1", "2.6")},
            {"id": "c", "outcome": "published", "spec": spec("2.3.2.post1", "2.9")},
            {"id": "d", "outcome": "published", "spec": spec("2.3.1", "2.9")},
            {"id": "e", "outcome": "failed", "cause": "build-failed", "spec": spec("2.3.2.post1", "2.5")},
        ],
    }
    records = [
        _record("2.3.1+cu.12.4.torch.2.6.abi.0", python_tag="cp310"),
        _record("2.3.2.post1+cu.12.4.torch.2.9.abi.0", python_tag="cp310"),
        _record("2.3.1+cu.12.4.torch.2.9.abi.0", python_tag="cp310"),
    ]
    m = build_matrix("mamba-ssm", records, [report], version=NEWEST)
    cells = {str(k.torch): c["3.10"] for k, c in m.rows.items()}
    assert m.version == NEWEST and m.versions == ["2.3.2.post1", "2.3.1"]
    assert (cells["2.6"].release, cells["2.6"].status) == ("2.3.1", "published")
    assert (cells["2.9"].release, cells["2.9"].status) == ("2.3.2.post1", "published")
    assert (cells["2.5"].release, cells["2.5"].status) == ("2.3.2.post1", "failed")  # nothing built: the newest try
    html = render_project(m, "http://h", {"torch": None, "cuda": None, "python": None}, ROOT_MAP)
    assert "newest release per torch" in html and '<option value="newest" selected>' in html
    assert "published</span> 2.3.1" in html and "failed</span> 2.3.2.post1" in html
    # the per-release views are unchanged: 2.3.2.post1's shows its torch 2.6 failure
    one = build_matrix("mamba-ssm", records, [report], version="2.3.2.post1")
    assert {str(k.torch): c["3.10"].status for k, c in one.rows.items()}["2.6"] == "failed"


def test_an_empty_cell_the_plan_dropped_says_why() -> None:
    def spec(version: str, torch: str, python: str) -> dict[str, object]:
        return {"package": "mamba-ssm", "version": version, "cuda": "13.2", "torch": torch, "python": python,
                "cxx11_abi": True}  # fmt: skip

    report = {
        "run_id": "r1",
        "tuples": [
            {"id": "a", "outcome": "published", "spec": spec("2.3.2.post1", "2.15", "3.11")},
            {"id": "b", "outcome": "published", "spec": spec("2.3.2.post1", "2.14", "3.10")},
        ],
        "dropped": [
            {"package": "mamba-ssm", "version": "2.3.2.post1", "torch": "2.15", "cuda": "13.2", "python": "3.10",
             "reason": "torch 2.15 has no CPython 3.10 wheels; it has 3.11–3.15"},
            {"package": "mamba-ssm", "version": "2.3.2.post1", "torch": "2.14", "cuda": "12.9", "python": "3.11",
             "reason": "another CUDA's row"},
            {"package": "mamba-ssm", "version": "2.2.4", "torch": "*", "reason": "the sdist has no CUDA sources"},
        ],
    }  # fmt: skip
    records = [
        _record("2.3.2.post1+cu.13.2.torch.2.15.abi.1", python_tag="cp311"),
        _record("2.3.2.post1+cu.13.2.torch.2.14.abi.1", python_tag="cp310"),
        _record("2.3.1+cu.13.2.torch.2.15.abi.1", python_tag="cp310"),
    ]
    blank = {"torch": None, "cuda": None, "python": None}
    m = build_matrix("mamba-ssm", records, [report], version="2.3.2.post1")
    keys = {str(k.torch): k for k in m.rows}
    assert "3.10" not in m.rows[keys["2.15"]] and m.pythons == ["3.10", "3.11"]
    assert m.dropped_reason(keys["2.15"], "3.10") == "torch 2.15 has no CPython 3.10 wheels; it has 3.11–3.15"
    assert m.dropped_reason(keys["2.14"], "3.11") is None  # its only dropped row is of CUDA 12.9
    html = render_project(m, "http://h", blank, ROOT_MAP)
    assert html.count('<td class="dropped">') == 1 and html.count('<td class="missing">') == 1
    assert 'not planned</span><br><span class="small">torch 2.15 has no CPython 3.10 wheels' in html
    # another release's view: 2.3.1 has a wheel there, and 2.3.2.post1's reasons are not 2.3.1's
    older = build_matrix("mamba-ssm", records, [report], version="2.3.1")
    assert older.dropped_reason(keys["2.15"], "3.11") is None
    assert 'class="dropped"' not in render_project(older, "http://h", blank, ROOT_MAP)
    # the newest view shows 2.3.1's wheel in that cell; an old release's every-torch row marks no cell
    newest = build_matrix("mamba-ssm", records, [report], version=NEWEST)
    assert newest.rows[keys["2.15"]]["3.10"].release == "2.3.1"
    assert newest.dropped_reason(keys["2.14"], "3.11") is None
    assert 'class="dropped"' not in render_project(newest, "http://h", blank, ROOT_MAP)
