"""The input key: declared inputs only, computed without provisioning; one record for both build paths."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from packaging.version import Version
from spec_builders import make_spec

import factory.stages.inputs
from factory.context import BuildContext
from factory.plan.job import resolve
from factory.plan.recipes import load_recipes
from factory.run.pipeline import compute_input_key
from factory.stages.build import BuiltWheel
from factory.stages.fetch import Sdist
from factory.stages.inputs import Prepared, input_key_of
from factory.stages.provenance import hook_provenance, provenance
from factory.stages.provision import Toolchain
from factory.stages.toolkit import Toolkit

ROOT = Path(__file__).resolve().parents[2]
SHA = "ab" * 32
KEY_SCRIPT = """
from packaging.version import Version
from factory.stages.inputs import input_key_of
from factory.plan.job import resolve
from factory.plan.recipes import load_recipes
from factory.plan.spec import BuildSpec
spec = BuildSpec(package="mamba-ssm", version=Version("2.3.2.post1"), cuda=Version("13.0"), torch=Version("2.14.1"),
                 torch_cuda=Version("13.0"), python="3.11", cxx11_abi=True, platform="manylinux_2_28_x86_64",
                 archs=("90",), torch_on_pypi=True)
print(input_key_of(resolve(spec, load_recipes(None)), "ab" * 32))
"""


def _job(**kw: object) -> factory.plan.job.Job:
    return resolve(make_spec(**kw), load_recipes(None))


def _key_in_copy(root: Path, readme: str) -> str:
    for name in ("factory", "index_server"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    (root / "README.md").write_text(readme)
    done = subprocess.run(
        [sys.executable, "-c", KEY_SCRIPT], cwd=root, capture_output=True, text=True, env={"PYTHONPATH": str(root)}
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_projects_readme_leaves_the_key_alone(tmp_path: Path) -> None:
    one = _key_in_copy(tmp_path / "one", (ROOT / "README.md").read_text())
    two = _key_in_copy(tmp_path / "two", "# a README rewritten from scratch\n")
    assert one == two == input_key_of(_job(), SHA)


def test_each_declared_input_moves_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    base = input_key_of(_job(), SHA)
    assert input_key_of(_job(), "cd" * 32) != base  # the sdist
    assert input_key_of(_job(archs=("80", "90")), SHA) != base  # a reduced-arch profile has its own key
    assert input_key_of(_job(torch=Version("2.14.2")), SHA) != base  # the torch release as planned
    assert input_key_of(_job(cxx11_abi=False), SHA) != base
    assert input_key_of(_job(platform="manylinux_2_17_x86_64"), SHA) != base  # the floor
    patched = _job()
    assert input_key_of(dataclasses.replace(patched, patches_digest="0" * 16), SHA) != base
    monkeypatch.setattr(factory.stages.inputs, "WHEEL_FORMAT_VERSION", factory.stages.inputs.WHEEL_FORMAT_VERSION + 1)
    assert input_key_of(_job(), SHA) != base


def test_computing_the_key_provisions_and_downloads_nothing(tmp_path: Path) -> None:
    asked: list[str] = []

    def pypi(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        sdist = {"packagetype": "sdist", "url": "https://files.example/x.tar.gz", "filename": "x.tar.gz",
                 "digests": {"sha256": SHA}}  # fmt: skip
        return httpx.Response(200, json={"releases": {"2.3.2.post1": [sdist]}})

    ctx = BuildContext(cache=tmp_path / "cache", uv=tmp_path / "no-uv", recipes={}, base_env={})
    with httpx.Client(transport=httpx.MockTransport(pypi)) as client:
        key = compute_input_key(_job(), ctx, client)
    assert key == input_key_of(_job(), SHA)
    assert asked == ["/pypi/mamba-ssm/json"]  # the JSON API only: no sdist download
    assert not (tmp_path / "cache").exists()  # no env, toolkit or sdist was made


def _prepared(job: factory.plan.job.Job, nvcc: str = "13.0.88") -> Prepared:
    """What provision and fetch would hand the pipeline for `job` (PyPI's torch 2.14.1, CUDA 13.0)."""
    toolchain = Toolchain(
        interpreter=Path("/py"), env=Path("/env"), python=Path("/env/bin/python"),
        toolkit=Toolkit(home=Path("/cuda"), nvcc=nvcc, origin="pypi"), host_compiler_dir=None,
        host_compiler="g++ 12", torch_version="2.14.1", torch_cuda="13.0", cxx11_abi=True, torch_include=Path("/inc"),
    )  # fmt: skip
    sdist = Sdist(path=Path("/s.tar.gz"), filename="s.tar.gz", sha256=SHA, url="https://x/s.tar.gz")
    return Prepared(toolchain=toolchain, sdist=sdist, compiler="g++ 12", input_key=input_key_of(job, SHA))


def test_the_hook_and_the_pipeline_write_the_same_record() -> None:
    job = _job()
    prepared = _prepared(job)
    built = BuiltWheel(path=Path("/w.whl"), source=Path("/src"), patches=[], flags={"MAX_JOBS": "2"})
    local = provenance(job, prepared, built, "00" * 32)
    ci = hook_provenance(
        job, sdist_sha256=SHA, raw_wheel_sha256="11" * 32, toolkit={"nvcc": "13.0.48"}, compiler="gcc 14",
        torch={"version": "2.14.1"},
    )  # fmt: skip
    assert set(local) == set(ci)
    assert local["input_key"] == ci["input_key"] == prepared.input_key  # another toolchain, the same key
    assert local["inputs"] == ci["inputs"] and local["patches"] == ci["patches"]
    assert local["sdist"]["sha256"] == ci["sdist"]["sha256"] == SHA


def test_a_stand_in_torch_is_in_the_key_and_the_provenance() -> None:
    """A tuple built against PyPI's torch in place of PyTorch's 13.2 variant says so, and keys apart."""
    real = _job(cuda=Version("13.2"), torch_cuda=Version("13.2"), torch_on_pypi=False)
    stand_in = _job(
        cuda=Version("13.2"), torch_cuda=Version("13.0"), torch_on_pypi=True, torch_stand_in_for="2.14.1+cu132"
    )
    assert input_key_of(real, SHA) != input_key_of(stand_in, SHA)
    prepared = _prepared(stand_in, nvcc="13.2.51")
    built = BuiltWheel(path=Path("/w.whl"), source=Path("/src"), patches=[], flags={})
    record = provenance(stand_in, prepared, built, "00" * 32)
    assert record["torch"]["stands_in_for"] == "2.14.1+cu132" and record["torch"]["cuda"] == "13.0"
    assert "only on PyTorch's own index" in record["torch"]["why"]
    assert record["spec"]["torch_stand_in_for"] == "2.14.1+cu132"
    assert "stands_in_for" not in provenance(real, prepared, built, "00" * 32)["torch"]
