"""The real server on loopback: twine and uv publish uploads, pass-through, pypi-simple, static export."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
from fake_dists import write_wheel
from index_fixtures import UPLOAD_TOKEN, Dists, IndexServer, torch_venv
from pypi_simple import ACCEPT_HTML_ONLY, ACCEPT_JSON_ONLY, PyPISimple
from servers import VENV_BIN, Served, run, static_server

pytestmark = pytest.mark.integration

JSON = "application/vnd.pypi.simple.v1+json"


def test_twine_upload(index: IndexServer, env: dict[str, str], work: Path) -> None:
    wheel = write_wheel(work / "twine", "twine-probe", "1.0")
    argv = [
        str(VENV_BIN / "twine"),
        "upload",
        "--non-interactive",
        "--disable-progress-bar",
        "--repository-url",
        f"{index.url}/legacy/",
        "-u",
        "__token__",
        "-p",
        UPLOAD_TOKEN,
        str(wheel),
    ]
    done = run(argv, env)
    assert done.returncode == 0, done.stdout + done.stderr
    page = httpx.get(f"{index.url}/simple/twine-probe/", headers={"Accept": JSON}).json()
    assert page["files"][0]["hashes"]["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert run(argv, env).returncode == 0  # identical re-upload succeeds
    wheel.unlink()
    write_wheel(work / "twine", "twine-probe", "1.0", files={"twine_probe/other.py": b"x = 1\n"})
    done = run(argv, env)
    assert done.returncode != 0 and "409" in done.stdout + done.stderr
    bad = run([*argv[:-2], "wrong-token", str(wheel)], env)
    assert bad.returncode != 0 and "403" in bad.stdout + bad.stderr


def test_uv_publish(index: IndexServer, env: dict[str, str], work: Path, uv: Path) -> None:
    wheel = write_wheel(work / "uvpub", "uv-probe", "1.0", requires_python=">=3.9")
    done = run(
        [str(uv), "publish", "--publish-url", f"{index.url}/legacy/", "--token", UPLOAD_TOKEN, str(wheel)],
        env,
        cwd=work,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    page = httpx.get(f"{index.url}/simple/uv-probe/", headers={"Accept": JSON}).json()
    assert page["files"][0]["filename"] == wheel.name and page["files"][0]["requires-python"] == ">=3.9"


def test_pass_through_never_serves_hosted_or_blocked_names(index: IndexServer, upstream: Served) -> None:
    einops = httpx.get(f"{index.url}/simple/einops/", headers={"Accept": JSON}).json()
    assert [f["url"] for f in einops["files"]] == [f"{upstream.url}/files/einops-0.8.0-py3-none-any.whl"]
    mamba = httpx.get(f"{index.url}/simple/mamba-ssm/", headers={"Accept": JSON}).json()
    assert not any("9.9.9" in f["filename"] for f in mamba["files"]) and "9.9.9" not in mamba["versions"]
    assert httpx.get(f"{index.url}/simple/torch/").status_code == 404
    assert httpx.get(f"{index.url}/simple/torchvision/").status_code == 404
    assert httpx.get(f"{index.url}/simple/not-anywhere/").status_code == 404


def _views(url: str, project: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    def rows(accept: str) -> list[tuple[object, ...]]:
        with PyPISimple(url, accept=accept) as client:
            page = client.get_project_page(project)
        return sorted(
            (
                p.filename,
                p.url,
                p.version,
                p.package_type,
                tuple(sorted(p.digests.items())),
                p.requires_python,
                bool(p.has_metadata),
                tuple(sorted((p.metadata_digests or {}).items())),
                p.is_yanked,
                p.yanked_reason,
            )
            for p in page.packages
        )

    return rows(ACCEPT_HTML_ONLY), rows(ACCEPT_JSON_ONLY)


@pytest.mark.parametrize("channel", ["simple/", "cu12/simple/", "cu13/simple/"])
@pytest.mark.parametrize("project", ["mamba-ssm", "causal-conv1d", "einops"])
def test_html_and_json_agree(index: IndexServer, channel: str, project: str) -> None:
    html, json_rows = _views(f"{index.url}/{channel}", project)
    assert html == json_rows and html


def test_static_export_installs_with_pip(index: IndexServer, env: dict[str, str], dists: Dists, work: Path) -> None:
    out = work / "export"
    done = run([str(VENV_BIN / "factory"), "export-static", "--data", str(index.data), "--out", str(out)], env)
    assert done.returncode == 0, done.stderr
    assert (out / "cu13" / "simple" / "mamba-ssm" / "index.json").is_file()
    assert (out / "project" / "mamba-ssm" / "index.html").is_file()
    static = static_server(out, work / "static.log")
    try:
        python = torch_venv(work, env, dists, "2.14.1", None, "venv-static")
        done = run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--no-deps",
                "mamba-ssm",
                "--index-url",
                f"{static.url}/simple",
            ],
            env,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        done = run([str(python), "-c", "import importlib.metadata as m; print(m.version('mamba-ssm'))"], env)
        assert done.stdout.strip() == "2.3.2.post1+cu.13.0.torch.2.14.abi.1"
        served = static.log.read_text()
        assert ".whl.metadata" in served  # PEP 658 metadata files work from the static tree too
    finally:
        static.stop()
    again = run([str(VENV_BIN / "factory"), "export-static", "--data", str(index.data), "--out", str(out)], env)
    assert again.returncode == 2 and "not empty" in again.stderr


def test_cli_prints_url_and_install_line(index: IndexServer) -> None:
    text = index.served.log.read_text()
    assert f"{index.url}/" in text and f"pip install PACKAGE --index-url {index.url}/simple" in text
