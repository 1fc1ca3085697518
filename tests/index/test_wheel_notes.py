"""The project page says what each wheel holds: SASS archs with example GPUs, PTX, its floor, and what
stood in for what (toolkit, torch, a raised floor) — from the wheel's own factory_build.json."""

from __future__ import annotations

import dataclasses

from test_pure import ROOT_MAP, _record

from index_server.pages.matrix import build_matrix
from index_server.pages.web import render_project
from index_server.pages.wheel_notes import wheel_notes

STOOD_IN = {
    "spec": {
        "package": "causal-conv1d", "version": "1.7.0", "cuda": "12.4", "cuda_major": 12, "torch": "2.8",
        "torch_version": "2.8.0", "python": "3.12", "cxx11_abi": True, "cuda_stand_in_for": "12.8",
        "archs_dropped": ["100", "120"],
    },
    "torch": {"version": "2.8.0+cu128", "cuda": "12.8"},
    "toolkit": {"nvcc": "12.4.131", "origin": "debian"},
    "auditwheel": {"tags": ["manylinux_2_24_x86_64", "manylinux_2_28_x86_64"]},
    "gpu_archs": {"sass": ["80", "90"], "ptx": ["90"], "objects": {}},
}  # fmt: skip
GUIDE = {
    "spec": {
        "package": "causal-conv1d", "version": "1.7.0", "cuda": "11.8", "cuda_major": 11, "torch": "2.3",
        "torch_version": "2.3.1", "python": "3.10", "cxx11_abi": False, "torch_stand_in_for": "2.3.1+cu118",
    },
    "torch": {"version": "2.3.1", "cuda": "12.1"},
    "toolkit": {"nvcc": "11.8.89", "origin": "debian"},
    "floor": {"why": "floor raised from 2.17 to 2.24 by _ZdlPvm@CXXABI_1.3.9"},
    "gpu_archs": {"sass": ["80"], "ptx": []},
}  # fmt: skip
# PyPI's torch 2.4 is cu121; the newest CUDA 12 toolkit the factory assembles is 12.4
NEWER_MINOR = {
    "spec": {
        "package": "causal-conv1d", "version": "1.7.0", "cuda": "12.1", "cuda_major": 12, "torch": "2.4",
        "torch_version": "2.4.1", "python": "3.10", "cxx11_abi": False,
    },
    "torch": {"version": "2.4.1+cu121", "cuda": "12.1"},
    "toolkit": {"nvcc": "12.4.131", "origin": "debian"},
    "gpu_archs": {"sass": ["80", "90"], "ptx": ["90"]},
}  # fmt: skip


def test_notes_of_a_stand_in_build() -> None:
    notes = wheel_notes(STOOD_IN)
    assert notes["archs"] == [
        "sm_80 (A100, A30, and on 8.6/8.9: A10, A40, L4, L40, RTX 30/40)",
        "sm_90 (H100, H200, GH200)",
        "PTX compute_90: JIT-compiled on any newer GPU",
    ]
    assert notes["notes"] == [
        "floor manylinux_2_24_x86_64 manylinux_2_28_x86_64",
        "toolkit CUDA 12.4 stood in for 12.8 (dropped sm_100, sm_120)",
    ]
    guide = wheel_notes(GUIDE)["notes"]
    assert "built against PyPI's torch 2.3.1 for 2.3.1+cu118" in guide
    assert any("not import-tested against its exact torch" in line for line in guide)
    assert "floor raised from 2.17 to 2.24 by _ZdlPvm@CXXABI_1.3.9" in guide
    assert not any("compiled by nvcc" in line for line in guide)  # 11.8.89 is the tuple's own CUDA 11.8


def test_a_newer_toolkit_minor_than_the_tuples_cuda_is_said() -> None:
    assert wheel_notes(NEWER_MINOR)["notes"] == [
        "compiled by nvcc 12.4.131 for CUDA 12.1 (a newer minor of the same major)"
    ]


def test_odd_provenance_renders_as_nothing_rather_than_failing() -> None:
    assert wheel_notes(None) == {"archs": [], "notes": []}
    assert wheel_notes({"gpu_archs": {"sass": ["<b>"], "ptx": None}}) == {
        "archs": ["no GPU code found in the binary"],
        "notes": [],
    }


def test_the_project_page_shows_the_notes() -> None:
    record = dataclasses.replace(
        _record("1.7.0+cu.12.4.torch.2.8.abi.1", "cp312", project="causal-conv1d"), build_info=STOOD_IN
    )
    html = render_project(
        build_matrix("causal-conv1d", [record], []), "http://h", {"torch": None, "cuda": None, "python": None}, ROOT_MAP
    )
    assert "sm_80 (A100" in html and "PTX compute_90" in html
    assert "toolkit CUDA 12.4 stood in for 12.8 (dropped sm_100, sm_120)" in html
