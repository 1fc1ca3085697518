"""The real thing, once: CUDA 12.4 fetched from Debian's archive into a fresh factory cache (no system
CUDA used), a kernel compiled with it for sm_80 + sm_90 + PTX, and the archs read back from the object
agree with the toolkit's own cuobjdump."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from packaging.version import Version

from factory.cli import build_parser
from factory.commands.common import context_from_args
from factory.process import SubprocessRunner
from factory.stages.gpu_archs import elf_archs
from factory.stages.toolkit import cuda_toolkit

KERNEL = """
#include <cuda_runtime.h>
#include <cub/block/block_load.cuh>
__global__ void twice(float* x) {
    using Load = cub::BlockLoad<float, 128, 4>;
    __shared__ typename Load::TempStorage tmp;
    float v[4];
    Load(tmp).Load(x, v);
    x[threadIdx.x] = v[0] * 2;
}
"""


@pytest.mark.integration
def test_cuda_12_4_from_debian_compiles_for_the_gpus_people_own(tmp_path: Path) -> None:
    args = build_parser().parse_args(["build", "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache")])
    ctx = context_from_args(args)
    from dataclasses import replace

    ctx = replace(ctx, cuda_homes=())  # whatever this machine has, the factory's own toolkit is used
    toolkit = cuda_toolkit(Version("12.4"), ctx, SubprocessRunner(), tmp_path / "provision.log")
    assert (toolkit.origin, toolkit.nvcc) == ("debian", "12.4.131")
    source = tmp_path / "k.cu"
    source.write_text(KERNEL)
    obj = tmp_path / "k.o"
    gencode = ["-gencode", "arch=compute_80,code=sm_80", "-gencode", "arch=compute_90,code=sm_90"]
    gencode += ["-gencode", "arch=compute_90,code=compute_90"]
    nvcc = toolkit.home / "bin" / "nvcc"
    env = {"PATH": "/usr/bin:/bin"}
    subprocess.run([nvcc, "-c", *gencode, source, "-o", obj], check=True, env=env, capture_output=True)
    assert elf_archs(obj.read_bytes()) == {"sass": ["80", "90"], "ptx": ["90"]}
    listed = subprocess.run(
        [toolkit.home / "bin" / "cuobjdump", "--list-elf", "--list-ptx", obj], capture_output=True, text=True
    ).stdout
    assert "sm_80.cubin" in listed and "sm_90.cubin" in listed and "sm_90.ptx" in listed
