"""A miss becomes a build, end to end on loopback with a fake build: real `factory serve`, real pip into a
venv whose torch is a stand-in (2.14.1, CUDA 13.0, C++11 ABI), `factory run --wanted`'s planning with a
builder that writes a dummy wheel instead of compiling, and the same pip install again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fake_dists import spec_wheel, write_wheel
from packaging.version import Version
from rich.console import Console
from servers import VENV_BIN, Served, client_env, free_port, make_venv, run
from spec_builders import make_spec

from factory.cli import build_parser
from factory.commands.run import wanted_specs
from factory.plan.spec import BuildSpec
from factory.run.matrix_run import run_matrix
from factory.run.publish import IndexPublisher
from index_server.local import LocalIndex

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
TORCH = {
    "torch/__init__.py": b"__version__ = '2.14.1+cu130'\nfrom . import version\n"
    b"def compiled_with_cxx11_abi():\n    return True\n",
    "torch/version.py": b"cuda = '13.0'\n",
}


@dataclass
class World:
    url: str
    data: Path
    access_log: Path
    python: Path
    env: dict[str, str]
    work: Path

    def install(self, **extra: str) -> tuple[int, str, float]:
        began = time.monotonic()
        argv = [str(self.python), "-m", "pip", "install", "causal-conv1d", "--index-url", f"{self.url}/simple"]
        done = run(argv, {**self.env, **extra})
        return done.returncode, done.stdout + done.stderr, time.monotonic() - began

    def wants(self) -> list[dict[str, object]]:
        wants: list[dict[str, object]] = httpx.get(f"{self.url}/wants/causal-conv1d", timeout=10).json()["wants"]
        return wants

    def posts(self) -> list[str]:
        return [line for line in self.access_log.read_text().splitlines() if line.startswith("POST /wants/")]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    work = tmp_path_factory.mktemp("wants-e2e")
    env = client_env(work)
    data = work / "data"
    old = make_spec(
        package="causal-conv1d", version=Version("1.7.0"), torch=Version("2.9.0"), cuda=Version("12.8"),
        torch_cuda=Version("12.8"),
    )  # fmt: skip
    LocalIndex(data).ingest(spec_wheel(work / "built", old))
    python = make_venv(work / "venv", env, None)
    torch = write_wheel(work / "torch", "torch", "2.14.1", files=TORCH)
    done = run([str(python), "-m", "pip", "install", "-q", "--no-index", str(torch)], env)
    assert done.returncode == 0, done.stderr
    port, log = free_port(), work / "access.log"
    argv = [str(VENV_BIN / "factory"), "serve", "--data", str(data), "--port", str(port), "--upstream", "none"]
    served = Served([*argv, "--access-log", str(log), "--matrix", str(REPO / "matrix.toml")], port, work / "serve.log")
    yield World(url=served.url, data=data, access_log=log, python=python, env=env, work=work)
    served.stop()


@dataclass
class Built:
    outcome: str
    wheel: Path | None
    input_key: str
    stage: str | None = None
    cause: str | None = None
    message: str | None = None
    log: Path | None = None


class DummyBuilder:
    """Builds nothing: writes the dummy wheel a real build of the tuple would be named and labelled as."""

    def __init__(self, out: Path) -> None:
        self.out, self.built = out, []  # type: ignore[var-annotated]

    def input_key(self, spec: BuildSpec) -> str:
        return "key-" + spec.id

    def build(self, spec: BuildSpec, on_stage: object, build: int) -> Built:
        self.built.append(spec.id)
        return Built("built", spec_wheel(self.out, spec, build, self.input_key(spec)), self.input_key(spec))

    def retag(self, wheel: Path, build: int) -> Path:
        raise AssertionError("no other publisher races this test")


class Quiet:
    def start(self, spec: BuildSpec) -> None: ...
    def stage(self, spec: BuildSpec, stage: str) -> None: ...
    def finish(self, spec: BuildSpec, outcome: object) -> None: ...


def test_a_miss_is_reported_listed_built_and_then_installed(world: World) -> None:
    code, output, seconds = world.install()
    assert code != 0 and seconds < 60, output
    assert "Missing build:    causal-conv1d for torch 2.14 + CUDA 13.0 + C++11 ABI + cp311" in output
    assert "causal-conv1d 1.7.0 for torch 2.9 + CUDA 12.8 + C++11 ABI + cp311, in /simple/ and /cu12/simple/" in output
    assert "Traceback" not in output
    deadline = time.monotonic() + 20  # the report leaves from a detached child: wait for it
    while not world.wants() and time.monotonic() < deadline:
        time.sleep(0.2)
    (want,) = world.wants()
    assert (want["torch"], want["cuda"], want["cxx11_abi"], want["python"], want["count"]) == (
        "2.14.1",
        "13.0",
        True,
        "3.11",
        1,
    )
    assert want["platform"] == "linux_x86_64" and want["served_by"] is None
    page = httpx.get(f"{world.url}/project/causal-conv1d/", timeout=10).text
    assert "torch 2.14 + CUDA 13.0 + C++11 ABI + cp311" in page and "the plan can build it" in page

    posts = len(world.posts())
    code, quiet, _ = world.install(FACTORY_INDEX_NO_REPORT="1")
    assert code != 0 and "nothing was sent to this index (FACTORY_INDEX_NO_REPORT is set)" in quiet
    # uv runs the backend in a build venv of its own: the sentinel finds the target through uv's --python
    argv = [str(VENV_BIN / "uv"), "pip", "install", "--python", str(world.python), "causal-conv1d"]
    done = run([*argv, "--index-url", f"{world.url}/simple"], {**world.env, "FACTORY_INDEX_NO_REPORT": "1"})
    assert done.returncode != 0 and f"This environment: {world.python}" in done.stderr, done.stderr
    assert "causal-conv1d for torch 2.14 + CUDA 13.0 + C++11 ABI + cp311" in done.stderr
    time.sleep(3)  # a report, had one left, would be in by now
    assert len(world.posts()) == posts and world.wants()[0]["count"] == 1

    args = build_parser().parse_args(
        [
            "run",
            "--matrix",
            str(REPO / "matrix.toml"),
            "--profile",
            "quick",
            "--wanted",
            world.url,
            "--data",
            str(world.data),
        ]
    )
    specs, _ = wanted_specs(args, Console(quiet=True))
    assert [s.id for s in specs] == ["causal-conv1d-1.7.0-cu13.0-torch2.14-cp311-abi1"]
    builder = DummyBuilder(world.work / "dummy")
    report = run_matrix(specs, builder=builder, publisher=IndexPublisher(world.data), progress=Quiet(), jobs=1)
    assert [t.outcome for t in report.tuples] == ["published"] and builder.built == [specs[0].id]

    (want,) = world.wants()
    assert str(want["served_by"]).startswith("causal_conv1d-1.7.0+cu.13.0.torch.2.14.abi.1-1-cp311")
    assert (
        "served by causal_conv1d-1.7.0+cu.13.0.torch.2.14.abi.1"
        in httpx.get(f"{world.url}/project/causal-conv1d/").text
    )
    code, output, _ = world.install()
    assert code == 0, output
    done = run([str(world.python), "-m", "pip", "show", "causal-conv1d"], world.env)
    assert "Version: 1.7.0+cu.13.0.torch.2.14.abi.1" in done.stdout
    assert wanted_specs(args, Console(quiet=True))[0] == []  # served: nothing wanted any more
