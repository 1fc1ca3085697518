"""What repair writes, planned as data, then applied: auditwheel's plan-then-apply, for the relabel step.

`plan_relabel` is pure: from the facts of auditwheel's wheel (name, dist-info folder, METADATA) and the
job, it decides the new file name, the METADATA text, the import guard and the provenance record.
`apply_relabel` copies the wheel with those changes; wheel's WheelFile writes a fresh, valid RECORD.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from packaging.utils import parse_wheel_filename
from wheel.wheelfile import WheelFile

from factory.job import Job
from factory.spec import BuildSpec
from factory.wheel_metadata import rewrite_metadata
from index_server.contract import BUILD_INFO_NAME

GUARD_IMPORT = b"from . import _factory_guard  # refuses a mismatched torch before the extension loads\n"


@dataclass(frozen=True, kw_only=True)
class WheelFacts:
    """What the plan needs to know of the wheel auditwheel wrote."""

    filename: str
    dist_info: str  # "mamba_ssm-2.3.2.post1.dist-info"
    metadata: str  # its METADATA text


@dataclass(frozen=True, kw_only=True)
class RelabelPlan:
    filename: str  # the new wheel's name
    old_dist_info: str
    new_dist_info: str
    metadata: str  # the new METADATA text
    guarded: str  # the member whose text the guard import is put before, e.g. "mamba_ssm/__init__.py"
    added: tuple[tuple[str, bytes], ...]  # new members, in order: the guard module, factory_build.json
    dependency_changes: list[str]


def read_facts(wheel: Path) -> WheelFacts:
    with WheelFile(wheel) as src:
        info = src.dist_info_path
        return WheelFacts(filename=wheel.name, dist_info=info, metadata=src.read(f"{info}/METADATA").decode())


def render_guard(spec: BuildSpec) -> str:
    template = resources.files("factory").joinpath("data/import_guard.py.in").read_text()
    values = {
        "@PACKAGE@": str(spec.package),
        "@VERSION@": str(spec.wheel_version),
        "@TORCH_MINOR@": spec.torch_minor,
        "@CUDA_MAJOR@": str(spec.cuda_major),
        "@CXX11_ABI@": str(spec.cxx11_abi),
    }
    for key, value in values.items():
        template = template.replace(key, value)
    return template


def plan_relabel(job: Job, facts: WheelFacts, provenance: dict[str, Any], torch_requires: list[str]) -> RelabelPlan:
    spec = job.spec
    name = parse_wheel_filename(facts.filename)[0]
    tag_part = facts.filename[: -len(".whl")].split("-", 2)[2]
    dist = str(name).replace("-", "_")
    metadata, changes = rewrite_metadata(facts.metadata, spec, torch_requires)
    new_info = f"{dist}-{spec.wheel_version}.dist-info"
    record = {**provenance, "dependency_changes": changes}
    return RelabelPlan(
        filename=f"{dist}-{spec.wheel_version}-{tag_part}.whl",
        old_dist_info=facts.dist_info,
        new_dist_info=new_info,
        metadata=metadata,
        guarded=f"{job.top_level}/__init__.py",
        added=(
            (f"{job.top_level}/_factory_guard.py", render_guard(spec).encode()),
            (f"{new_info}/{BUILD_INFO_NAME}", json.dumps(record, indent=2, sort_keys=True).encode()),
        ),
        dependency_changes=changes,
    )


def apply_relabel(plan: RelabelPlan, source: Path, out_dir: Path) -> Path:
    """Write the planned wheel into `out_dir`: every member of `source`, renamed and edited as planned."""
    path = out_dir / plan.filename
    old = plan.old_dist_info + "/"
    with WheelFile(source) as src, WheelFile(path, "w") as dst:
        for item in src.infolist():
            if item.is_dir() or (item.filename.endswith("/RECORD") and item.filename.startswith(old)):
                continue  # folders are implied by their files; WheelFile writes a fresh RECORD
            data = src.read(item.filename)
            target = item.filename
            if target.startswith(old):
                target = plan.new_dist_info + "/" + target[len(old) :]
                if target == f"{plan.new_dist_info}/METADATA":
                    data = plan.metadata.encode()
            if target == plan.guarded:
                data = GUARD_IMPORT + data
            dst.writestr(target, data)
        for name, data in plan.added:
            dst.writestr(name, data)
    return path
