"""Rehearse one cell's job of build-cells.yml on this machine, its steps as written, for the tiny CUDA
fixture's cell of two Pythons (3.11 at build 3, 3.12 new at build 1), publishing to a live `factory serve`.

Run as written, with bash as GitHub runs a `shell: bash` step: the cell settings step, the sdist step
(its `curl` answered from the fixture's sdist) with the one `factory workflow patch`, and the build step,
whose `factory workflow build-cell` runs each Python through cibuildwheel. For cibuildwheel itself, which
needs Docker, tests/ci/cibuildwheel_standin.py runs cibuildwheel's Linux sequence in a folder standing
for the container (one per Python, one after the other): before-all (the factory `pip install /project`-ed
from a copy of the checkout, so from a wheel built from it, then container-setup), then before-build, the
pip frontend, the repair hook and the test in a fresh venv, in that order, on a copy of the patched tree.

A CUDA 12.4 cell (torch 2.5, old C++ ABI, cp311 and cp312, both new: build 1) runs the same steps in the slow
tier: the image's /usr/local/cuda-12.4 is then the toolkit the factory assembles from Debian's archive.

Substituted, and only these: torch from PyPI (uv, hard links from the factory's package cache) for
PyTorch's index; the factory's toolkits for the image's /usr/local/cuda-X.Y (CUDA 13 from PyPI, 12.4 from
Debian's archive); the fixture's matrix, recipes and releases for the real ones; folders for the
container's paths; this machine's CA bundle. Not rehearsed: the disk step (sudo, Docker's data root),
checkout, setup-python, the artifact steps, and the container itself.

Each blocker the review found, put back, makes the rehearsal fail, with a message naming it
(tests/ci/test_rehearsal_controls.py).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("yaml", reason="PyYAML (dev extra) reads the workflow files")

from rehearsal import (
    BUILDS,
    BUILDS_CU12,
    CELL,
    CHECKS,
    CU12,
    TUPLE,
    Job,
    Machine,
    check_exit,
    index_files,
    load_doc,
    report,
)

pytestmark = pytest.mark.timeout(1800)


@pytest.mark.integration
def test_rehearse_one_cell_job(tmp_path: Path, machine: Machine, index: str) -> None:
    """Two Pythons built, repaired, tested and published, as written."""
    r = Job(load_doc(), tmp_path, machine, index, BUILDS).run()
    report(r)
    for check in CHECKS:
        check(r)
    assert sorted(index_files(r)) == sorted(p.name for p in (tmp_path / "workspace" / "wheelhouse").glob("*/*.whl"))


@pytest.mark.slow
def test_rehearse_a_cuda_12_4_cell(tmp_path: Path, machine_cu12: Machine, index: str) -> None:
    """The same job for a CUDA 12.4 cell (torch 2.5, old ABI): both Pythons built with the 12.4 toolkit,
    repaired, tested and published to the cu12 channel."""
    r = Job(load_doc(), tmp_path, machine_cu12, index, BUILDS_CU12, CU12).run()
    report(r)
    for check in CHECKS:
        check(r)
    held = sorted(index_files(r))
    assert held == sorted(p.name for p in (tmp_path / "workspace" / "wheelhouse").glob("*/*.whl")) and len(held) == 2
    for wheel in (tmp_path / "workspace" / "wheelhouse").glob("*/*.whl"):
        with zipfile.ZipFile(wheel) as z:
            record = json.loads(z.read(next(n for n in z.namelist() if n.endswith("factory_build.json"))))
        assert record["toolkit"]["nvcc"].startswith("Build cuda_12.4."), (wheel.name, record["toolkit"])


@pytest.mark.slow
def test_one_pythons_failure_keeps_the_others_wheel(tmp_path: Path, machine: Machine, index: str) -> None:
    """cp312's before-build fails: cp311's wheel is already on the index, and the job fails naming cp312."""
    r = Job(load_doc(), tmp_path, machine, index, BUILDS).run(fail={"identifier": "cp312-manylinux_x86_64",
                                                                          "stage": "before-build"})  # fmt: skip
    report(r)
    with pytest.raises(AssertionError, match="the cell's job failed"):
        check_exit(r)
    assert f"::error::{CELL} cp312-manylinux_x86_64 ({TUPLE.format(py='cp312')}): failed" in r.output
    assert [f.split("-manylinux")[0] for f in index_files(r)] == [
        "tiny_ext-0.1.0+cu.13.0.torch.2.14.abi.1-3-cp311-cp311"
    ]
