"""Session-wide fixtures for the index's integration tests: dists, fake upstream, the real server, venvs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fake_dists import mamba_build, write_wheel
from servers import VENV_BIN, Served, client_env, free_port, make_venv, run, static_server

from index_server.local import LocalIndex

UPLOAD_TOKEN = "integration-token"


@dataclass
class Dists:
    torch_dir: Path  # fake torch 2.9.0 and 2.14.1 wheels (find-links)
    hosted: list[Path]  # mamba-ssm and causal-conv1d builds


@dataclass
class IndexServer:
    url: str
    data: Path
    access_log: Path
    served: Served

    def access_lines(self, start: int = 0) -> list[str]:
        return self.access_log.read_text().splitlines()[start:] if self.access_log.exists() else []


def _simple_dir(root: Path, files: dict[str, list[Path]]) -> None:
    """A PEP 503 tree under root/simple/ with files under root/files/ (for `python -m http.server`)."""
    import hashlib

    for project, paths in files.items():
        page = root / "simple" / project
        page.mkdir(parents=True, exist_ok=True)
        links = []
        for path in paths:
            target = root / "files" / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            links.append(f'<a href="../../files/{path.name}#sha256={digest}">{path.name}</a><br>')
        (page / "index.html").write_text("<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n")


@pytest.fixture(scope="session")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("index-it")


@pytest.fixture(scope="session")
def env(work: Path) -> dict[str, str]:
    return client_env(work)


@pytest.fixture(scope="session")
def dists(work: Path) -> Dists:
    torch_dir = work / "torch"
    for version in ("2.9.0", "2.14.1"):
        write_wheel(torch_dir, "torch", version)
    builds = work / "builds"
    hosted = [
        mamba_build(builds, "12.8", "2.9"),
        mamba_build(builds, "13.0", "2.9"),
        mamba_build(builds, "13.0", "2.14"),
        mamba_build(builds, "12.6", "2.14"),
        mamba_build(builds, "13.0", "2.14", name="causal-conv1d", release="1.7.0"),
        # one version published twice (a rebuild): installers must take build 2
        *(mamba_build(builds, "13.0", "2.14", name="rebuilt-ext", release="1.0.0", build=n) for n in (1, 2)),
    ]
    return Dists(torch_dir=torch_dir, hosted=hosted)


@pytest.fixture(scope="session")
def upstream(work: Path, dists: Dists) -> Iterator[Served]:
    """A fake upstream: einops (must pass through), a rogue mamba-ssm and a torch (must never be served)."""
    up = work / "upstream"
    extra = work / "upstream-dists"
    _simple_dir(
        up,
        {
            "einops": [write_wheel(extra, "einops", "0.8.0")],
            "mamba-ssm": [write_wheel(extra, "mamba-ssm", "9.9.9")],
            "torch": [write_wheel(extra, "torch", "2.99.0")],
        },
    )
    # A stand-in for PyTorch's own index (poetry needs one source for torch).
    _simple_dir(up / "torch-index", {"torch": sorted(dists.torch_dir.glob("*.whl"))})
    served = static_server(up, work / "upstream.log")
    yield served
    served.stop()


@pytest.fixture(scope="session")
def index(work: Path, dists: Dists, upstream: Served) -> Iterator[IndexServer]:
    data = work / "data"
    local = LocalIndex(data)
    for path in dists.hosted:
        local.ingest(path)
    _publish_report(local, work)
    port = free_port()
    access_log = work / "access.log"
    server_env = {**client_env(work), "FACTORY_UPLOAD_TOKENS": f"other,{UPLOAD_TOKEN}"}
    argv = [
        str(VENV_BIN / "factory"),
        "serve",
        "--data",
        str(data),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--upstream",
        f"{upstream.url}/simple/",
        "--access-log",
        str(access_log),
    ]
    served = Served(argv, port, work / "index.log", env=server_env)
    yield IndexServer(url=served.url, data=data, access_log=access_log, served=served)
    served.stop()


def _publish_report(local: LocalIndex, work: Path) -> None:
    """A run report: one published tuple, one failed with a log, one skipped (as `factory run` writes)."""
    spec = next(
        i["spec"]
        for i in local.build_infos()
        if (i["spec"]["package"], i["spec"]["torch"], i["spec"]["cuda"]) == ("mamba-ssm", "2.14", "13.0")
    )
    failed = {**spec, "python": "3.12", "id": spec["id"].replace("cp311", "cp312")}
    skipped = {**spec, "python": "3.13", "id": spec["id"].replace("cp311", "cp313")}
    log = work / "failed.log"
    log.write_text("building mamba-ssm for cp312...\nnvcc fatal: out of memory\n")
    rows = [
        (spec, "published", None, None),
        (failed, "failed", "build", "nvcc-oom"),
        (skipped, "skipped", "provision", "no-toolkit"),
    ]
    report = {
        "run_id": "run-20260101T000000Z",
        "started": "2026-01-01T00:00:00Z",
        "finished": "2026-01-01T00:30:00Z",
        "profile": None,
        "tuples": [
            {
                "id": s["id"],
                "spec": s,
                "outcome": outcome,
                "stage": stage,
                "cause": cause,
                "message": None,
                "wheel": None,
                "seconds": 1.0,
            }
            for s, outcome, stage, cause in rows
        ],
    }
    local.publish_report(report, {failed["id"]: log})


def torch_venv(work: Path, env: dict[str, str], dists: Dists, torch: str, pip: str | None, name: str) -> Path:
    python = make_venv(work / name, env, pip)
    done = run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--find-links",
            str(dists.torch_dir),
            f"torch=={torch}",
        ],
        env,
    )
    assert done.returncode == 0, done.stderr
    return python


@pytest.fixture(scope="session")
def venv_torch29(work: Path, env: dict[str, str], dists: Dists) -> Path:
    return torch_venv(work, env, dists, "2.9.0", "latest", "venv-torch29")


@pytest.fixture(scope="session")
def venv_torch214(work: Path, env: dict[str, str], dists: Dists) -> Path:
    return torch_venv(work, env, dists, "2.14.1", "latest", "venv-torch214")


@pytest.fixture(scope="session")
def uv() -> Path:
    return VENV_BIN / "uv"


@pytest.fixture(scope="session")
def poetry(work: Path, env: dict[str, str]) -> Path:
    python = make_venv(work / "venv-poetry", env, "latest")
    done = run([str(python), "-m", "pip", "install", "-q", "poetry"], env, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"could not install poetry from PyPI: {done.stderr[-2000:]}")
    return python.parent / "poetry"


# A poetry project that takes torch from an explicit torch index and PACKAGE from the factory (primary).
POETRY_PROJECT = """
[tool.poetry]
package-mode = false

[tool.poetry.dependencies]
python = "~3.11"
torch = {{ version = "{torch}", source = "torchidx" }}
{package} = "*"

[[tool.poetry.source]]
name = "factory"
url = "{index}/simple/"
priority = "primary"

[[tool.poetry.source]]
name = "torchidx"
url = "{torch_index}/torch-index/simple/"
priority = "explicit"
"""
