"""factory_build.json before repair stamps it (index_server.contract.BuildInfo), one builder for both paths.

`factory run`/`factory build` (the local pipeline) and `factory repair` (cibuildwheel's hook in CI) both
call `build_record`, so a wheel's record has the same keys and the same input key whichever path made
it: a wheel built on GitHub is "published" to a local run and the other way round.
"""

from __future__ import annotations

from typing import Any

from factory.plan.job import Job
from factory.stages.build import BuiltWheel
from factory.stages.inputs import Prepared, declared_inputs, input_key_of


def build_record(
    job: Job,
    *,
    sdist: dict[str, Any],
    raw_wheel_sha256: str,
    toolkit: dict[str, Any],
    compiler: str,
    torch: dict[str, Any],
    flags: dict[str, str],
    built_by: str,
) -> dict[str, Any]:
    """`sdist` must hold its "sha256"; the key is computed here from the job and that digest."""
    sha256 = str(sdist["sha256"])
    return {
        "spec": job.spec.to_json(),
        "input_key": input_key_of(job, sha256),
        "inputs": declared_inputs(job, sha256),
        "sdist": sdist,
        "raw_wheel_sha256": raw_wheel_sha256,
        "recipe": {"package": str(job.package), "switches": job.switches},
        "patches": [{"name": p.name, "file": p.file, "why": p.why} for p in job.patches],
        "toolkit": toolkit,
        "compiler": compiler,
        "torch": torch,
        "flags": {"gencode": " ".join(job.gencode), **flags},
        "built_by": built_by,
    }


def torch_record(job: Job, version: str, cuda: str | None, cxx11_abi: bool) -> dict[str, Any]:
    """The torch a wheel was compiled against, and the PyTorch-index variant it stood in for, if any."""
    record: dict[str, Any] = {"version": version, "cuda": cuda, "cxx11_abi": cxx11_abi}
    if job.spec.torch_stand_in_for is not None:
        record["stands_in_for"] = job.spec.torch_stand_in_for
        record["why"] = (
            f"torch {job.spec.torch_stand_in_for} is only on PyTorch's own index; built against PyPI's "
            f"torch {job.spec.torch} (CUDA {job.spec.torch_cuda}), same release and CUDA major"
        )
    return record


def provenance(job: Job, prepared: Prepared, built: BuiltWheel, raw_wheel_sha256: str) -> dict[str, Any]:
    """The local pipeline's record."""
    toolchain = prepared.toolchain
    return build_record(
        job,
        sdist=prepared.sdist.describe(),
        raw_wheel_sha256=raw_wheel_sha256,
        toolkit=toolchain.toolkit.describe(),
        compiler=prepared.compiler,
        torch=torch_record(job, toolchain.torch_version, toolchain.torch_cuda, toolchain.cxx11_abi),
        flags=built.flags,
        built_by="factory pipeline",
    )


def hook_provenance(
    job: Job,
    *,
    sdist_sha256: str,
    raw_wheel_sha256: str,
    toolkit: dict[str, Any],
    compiler: str,
    torch: dict[str, Any],
) -> dict[str, Any]:
    """`factory repair`'s record, for a wheel compiled outside the factory's build stage (CI)."""
    return build_record(
        job,
        sdist={"sha256": sdist_sha256},
        raw_wheel_sha256=raw_wheel_sha256,
        toolkit=toolkit,
        compiler=compiler,
        torch=torch,
        flags=dict(job.switches),
        built_by="factory repair (wheel compiled outside the factory's build stage)",
    )
