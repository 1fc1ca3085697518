"""The repaired wheel's bytes: reproducible, and pinned by a golden digest to WHEEL_FORMAT_VERSION.

The input is a synthetic "compiled" wheel made here from fixed bytes (tests/fixtures/golden holds its
checked-in ELF and says why it is not compiled by the test). The repair is the real one: auditwheel,
then the factory's relabel, guard, provenance and reproducible rewrite.
"""

from __future__ import annotations

import base64
import hashlib
import io
import time
import zipfile
from pathlib import Path

import pytest
from build_fixtures import ROOT
from packaging.version import Version
from spec_builders import make_spec

from factory.context import BuildContext
from factory.plan.job import Job, resolve
from factory.plan.recipes import load_recipes
from factory.process import SubprocessRunner
from factory.stages.provenance import hook_provenance
from factory.stages.repair import repair_wheel
from factory.stages.repair_plan import WHEEL_FORMAT_VERSION

# Bump WHEEL_FORMAT_VERSION (factory/stages/repair_plan.py) together with this digest, never this alone.
GOLDEN = {3: "dce1dbe43184f5bb7475f2236bd331be9ed32660de8f45ee8ec6217990b1fcb5"}

# the ELF's bytes, base64 text (a fixture of fixed bytes, not build output of this tree)
ELF = ROOT / "tests" / "fixtures" / "golden" / "golden_ext.so.b64"
ELF_SHA256 = "0db866659104995bafefefe8c10dbc32ccd6e714b4ca83612f35bab697f63f8a"
AUDITWHEEL = ROOT / ".venv" / "bin" / "auditwheel"
EPOCH = 1700000000  # what sdist_epoch would give for an sdist made then


def _raw_wheel(dest: Path) -> Path:
    """tiny_ext 0.1.0 as a compiler would leave it: linux-tagged, unrepaired, fixed bytes."""
    elf = base64.b64decode(ELF.read_text())
    assert hashlib.sha256(elf).hexdigest() == ELF_SHA256, "the golden ELF changed"
    info = "tiny_ext-0.1.0.dist-info"
    members = {
        "tiny_ext/__init__.py": b"from tiny_ext_cuda import golden_answer\n",
        "tiny_ext_cuda.cpython-311-x86_64-linux-gnu.so": elf,
        f"{info}/METADATA": b"Metadata-Version: 2.1\nName: tiny-ext\nVersion: 0.1.0\n"
        b"Requires-Dist: torch\nRequires-Dist: numpy>=1.20\n\nA fixture.\n",
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\n"
        b"Tag: cp311-cp311-linux_x86_64\n",
        f"{info}/top_level.txt": b"tiny_ext\ntiny_ext_cuda\n",
    }
    record = "".join(f"{name},,\n" for name in members) + f"{info}/RECORD,,\n"
    members[f"{info}/RECORD"] = record.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            item = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            item.external_attr = (0o755 if name.endswith(".so") else 0o644) << 16
            zf.writestr(item, data)
    path = dest / "tiny_ext-0.1.0-cp311-cp311-linux_x86_64.whl"
    path.write_bytes(buffer.getvalue())
    return path


def _job() -> Job:
    spec = make_spec(package="tiny-ext", version=Version("0.1.0"), archs=("90",))
    return resolve(spec, load_recipes(ROOT / "tests" / "fixtures" / "golden" / "recipes.toml"))


def _repair(tmp: Path, work_name: str, *, build: int = 1) -> Path:
    job = _job()
    (tmp / "tmp").mkdir(parents=True, exist_ok=True)  # auditwheel's TMPDIR: another per call
    raw = _raw_wheel(tmp)
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp / "tmp")}
    ctx = BuildContext(cache=tmp / "cache", uv=Path("uv"), recipes={}, base_env=env, auditwheel=AUDITWHEEL)
    record = hook_provenance(
        job,
        sdist_sha256="ab" * 32,
        raw_wheel_sha256=hashlib.sha256(raw.read_bytes()).hexdigest(),
        toolkit={"nvcc": "fixed"},
        compiler="fixed",
        torch={"version": "2.14.1"},
    )
    work = tmp / work_name
    work.mkdir()
    pins = ["numpy==1.19.5", "nvidia-cuda-runtime==13.0.96"]
    repaired = repair_wheel(job, ctx, raw, pins, record, work, SubprocessRunner(), work / "repair.log",
                            build=build, epoch=EPOCH)  # fmt: skip
    return repaired.path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.skipif(not AUDITWHEEL.exists(), reason="needs the project's venv (make setup)")
def test_repaired_wheel_matches_the_golden_digest(tmp_path: Path) -> None:
    wheel = _repair(tmp_path, "work")
    assert wheel.name.startswith("tiny_ext-0.1.0+cu.13.0.torch.2.14.abi.1-1-cp311-cp311-")
    assert "manylinux_2_28_x86_64" in wheel.name
    got = _sha256(wheel)
    assert got == GOLDEN.get(WHEEL_FORMAT_VERSION), (
        f"the repaired wheel's bytes changed (sha256 {got}). If that is intended, bump WHEEL_FORMAT_VERSION "
        "and update the golden digest (GOLDEN in this test); every published tuple then rebuilds once."
    )


@pytest.mark.skipif(not AUDITWHEEL.exists(), reason="needs the project's venv (make setup)")
def test_repair_is_reproducible_across_time_and_folders(tmp_path: Path) -> None:
    first = _repair(tmp_path / "a", "work-one")
    time.sleep(2.1)  # zip times have a 2 s resolution: a wall-clock time would show
    second = _repair(tmp_path / "b", "elsewhere")
    assert _sha256(first) == _sha256(second)
    with zipfile.ZipFile(first) as zf:
        infos = zf.infolist()
    assert {i.date_time for i in infos} == {time.gmtime(EPOCH)[:6]}
    assert {i.external_attr >> 16 for i in infos} <= {0o100644, 0o100755}
    names = [i.filename for i in infos]
    assert names[-1].endswith("/RECORD") and names.index("tiny_ext/_factory_guard.py") < names.index(
        "tiny_ext-0.1.0+cu.13.0.torch.2.14.abi.1.dist-info/METADATA"
    )


@pytest.mark.skipif(not AUDITWHEEL.exists(), reason="needs the project's venv (make setup)")
def test_build_number_is_in_the_name_and_the_wheel_file(tmp_path: Path) -> None:
    wheel = _repair(tmp_path, "work", build=7)
    assert "-7-cp311-cp311-" in wheel.name
    with zipfile.ZipFile(wheel) as zf:
        text = zf.read("tiny_ext-0.1.0+cu.13.0.torch.2.14.abi.1.dist-info/WHEEL").decode()
        built = zf.read("tiny_ext-0.1.0+cu.13.0.torch.2.14.abi.1.dist-info/factory_build.json").decode()
    assert "Build: 7" in text.splitlines()
    assert "built_at" not in built and f'"wheel_format": {WHEEL_FORMAT_VERSION}' in built


@pytest.mark.skipif(not AUDITWHEEL.exists(), reason="needs the project's venv (make setup)")
def test_retagging_after_a_lost_race_equals_repairing_with_that_number(tmp_path: Path) -> None:
    from factory.stages.repair_plan import retag_build

    first = _repair(tmp_path / "a", "work", build=1)
    (tmp_path / "retagged").mkdir()
    retagged = retag_build(first, 2, tmp_path / "retagged")
    direct = _repair(tmp_path / "b", "work", build=2)
    assert retagged.name == direct.name and _sha256(retagged) == _sha256(direct)
