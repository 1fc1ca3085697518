"""factory_build.json before repair stamps it: how a tuple's wheel was made (index_server.contract.BuildInfo)."""

from __future__ import annotations

from typing import Any

from factory.build import BuiltWheel
from factory.inputs import Prepared
from factory.job import Job


def provenance(job: Job, prepared: Prepared, built: BuiltWheel) -> dict[str, Any]:
    toolchain = prepared.toolchain
    return {
        "spec": job.spec.to_json(),
        "input_key": prepared.input_key,
        "sdist": prepared.sdist.describe(),
        "recipe": {"package": str(job.package), "switches": job.switches},
        "patches": built.patches,
        "toolkit": {"cuda_home": str(toolchain.cuda_home), "nvcc": toolchain.nvcc_version},
        "compiler": prepared.compiler,
        "torch": {
            "version": toolchain.torch_version,
            "cuda": toolchain.torch_cuda,
            "cxx11_abi": toolchain.cxx11_abi,
        },
        "flags": built.flags,
    }


def outside_provenance(
    job: Job, sdist_sha256: str | None, raw_wheel_sha256: str, compiler: str, torch_version: str
) -> dict[str, Any]:
    """For `factory repair`: a wheel compiled outside the factory's build stage (no input key)."""
    return {
        "spec": job.spec.to_json(),
        "input_key": None,
        "sdist": {"sha256": sdist_sha256},
        "raw_wheel_sha256": raw_wheel_sha256,
        "recipe": {"package": str(job.package), "switches": job.switches},
        "patches": [{"name": p.name, "file": p.file, "why": p.why} for p in job.patches],
        "compiler": compiler,
        "torch": {"version": torch_version},
        "flags": {"gencode": " ".join(job.gencode)},
        "built_by": "factory repair (wheel compiled outside the factory's build stage)",
    }
