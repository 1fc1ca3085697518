"""The whole stage chain on the tiny CUDA extension: real nvcc, real auditwheel, real venvs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from build_fixtures import FixtureBuild, needs_nvcc
from packaging.utils import parse_wheel_filename
from wheel.wheelfile import WheelFile

from factory.commands.common import _pip_extra_indexes

pytestmark = [needs_nvcc, pytest.mark.integration]

GOOD, BROKEN = "tiny-ext", "tiny-ext-broken"


def _wheel(build: FixtureBuild) -> Path:
    (wheel,) = (build.tuple_dir(GOOD) / "wheel").glob("*.whl")
    return wheel


def test_good_tuple_yields_a_labelled_manylinux_2_28_wheel(fixture_build: FixtureBuild) -> None:
    wheel = _wheel(fixture_build)
    _, version, _, tags = parse_wheel_filename(wheel.name)
    assert str(version) == "0.1.0+cu.13.0.torch.2.14.abi.1"
    assert "manylinux_2_28_x86_64" in {t.platform for t in tags}
    assert {t.interpreter for t in tags} == {"cp311"}
    with WheelFile(wheel) as wf:  # WheelFile checks every RECORD hash as it reads
        meta = wf.read(f"{wf.dist_info_path}/METADATA").decode()
        provenance = json.loads(wf.read(f"{wf.dist_info_path}/factory_build.json"))
        for item in wf.infolist():
            wf.read(item.filename)
        init = wf.read("tiny_ext/__init__.py").decode()
    assert "Requires-Dist: torch>=2.14,<2.15" in meta.splitlines()
    assert provenance["spec"]["id"] == "tiny-ext-0.1.0-cu13.0-torch2.14-cp311-abi1"
    assert provenance["input_key"] and provenance["sdist"]["sha256"]
    assert [p["name"] for p in provenance["patches"]] == ["gencode-list", "cxx20"]
    assert provenance["flags"]["gencode"] == "-gencode arch=compute_90,code=sm_90"
    assert init.startswith("from . import _factory_guard")
    # what the binary holds, read from its .nv_fatbin, and handed to the guard's GPU check
    assert (provenance["gpu_archs"]["sass"], provenance["gpu_archs"]["ptx"]) == (["90"], [])
    with WheelFile(wheel) as wf:
        guard = wf.read("tiny_ext/_factory_guard.py").decode()
    assert "\"sass\": ['90']" in guard and '"ptx": []' in guard and "'tiny_ext_cuda'" in guard


def test_auditwheel_show_agrees(fixture_build: FixtureBuild) -> None:
    auditwheel = Path(__import__("sys").executable).parent / "auditwheel"
    shown = subprocess.run([auditwheel, "show", "--json", _wheel(fixture_build)], capture_output=True, text=True)
    data = json.loads(shown.stdout[shown.stdout.index("{") :])
    major, minor = (int(x) for x in data["sym_tag"].split("_")[1:3])
    assert (major, minor) <= (2, 28)
    assert "libcudart.so.13" in data["external_libs"]  # torch's nvidia wheels provide it; never bundled
    with zipfile.ZipFile(_wheel(fixture_build)) as zf:
        assert not [n for n in zf.namelist() if "libcudart" in n or "libc10" in n]


def test_every_stage_left_a_record(fixture_build: FixtureBuild) -> None:
    for stage in ("provision", "fetch", "build", "repair", "verify"):
        record = fixture_build.record(GOOD, stage)
        assert record["outcome"] == "ok", record
    verify = fixture_build.record(GOOD, "verify")
    assert verify["outputs"] == {
        "extension_import": ["tiny_ext_cuda"],
        "dependencies": "installed beside torch",
        "package_import": "tiny_ext",
    }
    repaired = fixture_build.record(GOOD, "repair")
    assert repaired["outcome"] == "ok"
    assert (fixture_build.tuple_dir(GOOD) / "build.log").read_text().count("$ ") >= 5


def test_broken_tuple_is_classified_and_the_other_completes(fixture_build: FixtureBuild) -> None:
    assert fixture_build.exit_code == 1
    record = fixture_build.record(BROKEN, "build")
    assert record["outcome"] == "failed"
    assert record["cause"] == "compiler-error"
    assert "kernel.cu(6): error" in str(record["message"]) and "requires" in str(record["message"])
    assert not (fixture_build.tuple_dir(BROKEN) / "repair.json").exists()
    assert _wheel(fixture_build).exists()


def test_wheel_installs_and_imports_beside_torch(fixture_build: FixtureBuild, tmp_path: Path) -> None:
    """A fresh venv holding only torch 2.14.1 and the wheel: the extension imports."""
    uv = Path(sys.executable).parent / "uv"
    venv = tmp_path / "venv"
    env = {**os.environ, "UV_CACHE_DIR": str(fixture_build.cache / "uv"), "UV_LINK_MODE": "hardlink"}
    subprocess.run([uv, "venv", "-q", "--python", "3.11", venv], check=True, env=env)
    indexes = [arg for url in _pip_extra_indexes() for arg in ("--extra-index-url", url)]
    subprocess.run([uv, "pip", "install", "-q", "--python", venv / "bin" / "python", *indexes,
                    "--index-strategy", "unsafe-best-match", "torch==2.14.1", _wheel(fixture_build)],
                   check=True, env=env)  # fmt: skip
    code = "import torch, tiny_ext, tiny_ext_cuda; print(tiny_ext_cuda.device_count())"
    done = subprocess.run([venv / "bin" / "python", "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"  # imports on a machine with no GPU; no device to count


def test_repair_alone_on_a_wheel_built_elsewhere(fixture_build: FixtureBuild, tmp_path: Path) -> None:
    """`factory repair` (cibuildwheel's hook) gives the same label, pin and tags as the pipeline."""
    from build_fixtures import FIXTURE

    from factory.cli import main

    (raw,) = (fixture_build.tuple_dir(GOOD) / "dist").glob("*.whl")
    env_python = next((fixture_build.cache / "envs").glob("py3.11-torch2.14.1-cu130")) / "bin" / "python"
    tuple_id = "tiny-ext-0.1.0-cu13.0-torch2.14-cp311-abi1"
    fixture = ["--matrix", str(FIXTURE / "matrix.toml"), "--recipes", str(FIXTURE / "recipes.toml"),
               "--releases", str(FIXTURE / "releases.toml"), "--profile", "ci"]  # fmt: skip
    code = main(["repair", *fixture, "--id", tuple_id, "--wheel", str(raw), "--dest", str(tmp_path),
                 "--torch-python", str(env_python), "--sdist-sha256", "ab" * 32])  # fmt: skip
    assert code == 0
    (wheel,) = tmp_path.glob("*.whl")
    assert wheel.name == _wheel(fixture_build).name
    with WheelFile(wheel) as wf:
        meta = wf.read(f"{wf.dist_info_path}/METADATA").decode()
        provenance = json.loads(wf.read(f"{wf.dist_info_path}/factory_build.json"))
    assert "Requires-Dist: torch>=2.14,<2.15" in meta.splitlines()
    assert provenance["sdist"]["sha256"] == "ab" * 32 and provenance["built_by"].startswith("factory repair")
    assert main(["repair", *fixture, "--id", "no-such-tuple", "--wheel", str(raw), "--dest", str(tmp_path)]) == 2


def test_factory_repair_is_reproducible(
    fixture_build: FixtureBuild, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same compiled wheel repaired twice, > 2 s apart, other folders and TMPDIR: the same bytes."""
    import hashlib
    import tempfile
    import time

    from build_fixtures import FIXTURE

    from factory.cli import main

    (raw,) = (fixture_build.tuple_dir(GOOD) / "dist").glob("*.whl")
    env_python = next((fixture_build.cache / "envs").glob("py3.11-torch2.14.1-cu130")) / "bin" / "python"
    fixture = ["--matrix", str(FIXTURE / "matrix.toml"), "--recipes", str(FIXTURE / "recipes.toml"),
               "--releases", str(FIXTURE / "releases.toml"), "--profile", "ci"]  # fmt: skip
    digests = []
    for run in ("first", "second"):
        tmp = tmp_path / run / "tmp"
        tmp.mkdir(parents=True)
        monkeypatch.setenv("TMPDIR", str(tmp))
        monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
        dest = tmp_path / run / "dest"
        code = main(["repair", *fixture, "--id", "tiny-ext-0.1.0-cu13.0-torch2.14-cp311-abi1", "--wheel", str(raw),
                     "--dest", str(dest), "--torch-python", str(env_python),
                     "--sdist", str(fixture_build.sdists[GOOD]), "--build", "3"])  # fmt: skip
        assert code == 0
        (wheel,) = dest.glob("*.whl")
        assert "-3-cp311-cp311-" in wheel.name
        digests.append(hashlib.sha256(wheel.read_bytes()).hexdigest())
        if run == "first":
            time.sleep(2.1)  # zip times have a 2 s resolution
    assert digests[0] == digests[1]
