"""What repair writes, planned as data, then applied: auditwheel's plan-then-apply, for the relabel step.

`plan_relabel` is pure: from the facts of auditwheel's wheel (name, dist-info folder, METADATA) and the
job, it decides the new file name, the METADATA text, the import guard and the provenance record.
`apply_relabel` copies the wheel with those changes; wheel's WheelFile writes a fresh, valid RECORD.

The copy is reproducible: members in a fixed order (package files sorted, then the dist-info's, RECORD
last), every timestamp the plan's epoch (the sdist's newest member, see factory.sdist_epoch), modes
0o644 or 0o755, one compression. The same auditwheel output and plan give the same bytes.

WHEEL_FORMAT_VERSION enters every input key. Bump it whenever what the factory writes into a wheel
changes: this module, wheel_metadata (the dependency rewrite), data/import_guard.py.in, the glibc shim
or the auditwheel pin. tests/stages/test_golden_wheel.py fails until it is bumped and its digest updated.
"""

from __future__ import annotations

import calendar
import json
import stat
import time
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from packaging.utils import parse_wheel_filename
from wheel.wheelfile import WheelFile

from factory.plan.job import Job
from factory.plan.spec import BuildSpec
from factory.stages.wheel_metadata import rewrite_metadata
from index_server.contract import BUILD_INFO_NAME

# 1: the unversioned format with built_at; 2: reproducible, build tag, guard URL; 3: the GPU archs read from
# the binary (provenance and the guard's first-use GPU check), the glibc 2.17 shims, a raised floor said
WHEEL_FORMAT_VERSION = 3

ZIP_EPOCH_MIN = 315532800  # 1980-01-01: the zip format has no earlier time

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
    build: int  # the PEP 427 build tag, also `Build:` in WHEEL
    epoch: int  # every member's timestamp (SOURCE_DATE_EPOCH)


def read_facts(wheel: Path) -> WheelFacts:
    with WheelFile(wheel) as src:
        info = src.dist_info_path
        return WheelFacts(filename=wheel.name, dist_info=info, metadata=src.read(f"{info}/METADATA").decode())


def render_guard(spec: BuildSpec, archs: dict[str, Any], extensions: tuple[str, ...]) -> str:
    """The guard module; `archs` is what the binary holds ({"sass": [...], "ptx": [...]}, from gpu_archs)."""
    template = resources.files("factory").joinpath("data/import_guard.py.in").read_text()
    values = {
        "@PACKAGE@": str(spec.package),
        "@VERSION@": str(spec.wheel_version),
        "@TORCH_MINOR@": spec.torch_minor,
        "@CUDA_MAJOR@": str(spec.cuda_major),
        "@CXX11_ABI@": str(spec.cxx11_abi),
        "@SASS@": repr(list(archs.get("sass", []))),
        "@PTX@": repr(list(archs.get("ptx", []))),
        "@EXTENSIONS@": repr(list(extensions)),
    }
    for key, value in values.items():
        template = template.replace(key, value)
    return template


def plan_relabel(
    job: Job, facts: WheelFacts, provenance: dict[str, Any], torch_requires: list[str], *, build: int, epoch: int
) -> RelabelPlan:
    spec = job.spec
    name = parse_wheel_filename(facts.filename)[0]
    tag_part = facts.filename[: -len(".whl")].split("-", 2)[2]
    dist = str(name).replace("-", "_")
    metadata, changes = rewrite_metadata(facts.metadata, spec, torch_requires)
    new_info = f"{dist}-{spec.wheel_version}.dist-info"
    record = {**provenance, "dependency_changes": changes}
    return RelabelPlan(
        filename=f"{dist}-{spec.wheel_version}-{build}-{tag_part}.whl",
        old_dist_info=facts.dist_info,
        new_dist_info=new_info,
        metadata=metadata,
        guarded=f"{job.top_level}/__init__.py",
        added=(
            (
                f"{job.top_level}/_factory_guard.py",
                render_guard(spec, provenance.get("gpu_archs", {}), job.import_modules).encode(),
            ),
            (f"{new_info}/{BUILD_INFO_NAME}", json.dumps(record, indent=2, sort_keys=True).encode()),
        ),
        dependency_changes=changes,
        build=build,
        epoch=epoch,
    )


class _ReproducibleWheel(WheelFile):
    """WheelFile whose every member, RECORD included, gets one timestamp and a normalized mode."""

    def __init__(self, path: Path, epoch: int) -> None:
        super().__init__(path, "w")
        self._date_time = time.gmtime(max(epoch, ZIP_EPOCH_MIN))[:6]

    def writestr(self, zinfo_or_arcname: str | zipfile.ZipInfo, data: Any, compress_type: int | None = None) -> None:
        name = zinfo_or_arcname if isinstance(zinfo_or_arcname, str) else zinfo_or_arcname.filename
        executable = not isinstance(zinfo_or_arcname, str) and bool((zinfo_or_arcname.external_attr >> 16) & 0o111)
        info = zipfile.ZipInfo(name, date_time=self._date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
        super().writestr(info, data, compress_type)


def with_build_tag(wheel_text: str, build: int) -> str:
    """The WHEEL file's text with `Build: N` (replacing any Build line)."""
    lines = [ln for ln in wheel_text.splitlines() if ln.strip() and not ln.startswith("Build:")]
    return "\n".join([*lines, f"Build: {build}"]) + "\n"


def _member_order(name: str, dist_info: str) -> tuple[int, str]:
    return (1 if name.startswith(dist_info + "/") else 0, name)


def write_members(path: Path, members: dict[str, tuple[bytes, int]], dist_info: str, epoch: int) -> Path:
    """Write `members` (name -> data, zip external_attr) as a reproducible wheel at `path`."""
    with _ReproducibleWheel(path, epoch) as dst:
        for name in sorted(members, key=lambda n: _member_order(n, dist_info)):
            data, attr = members[name]
            info = zipfile.ZipInfo(name)
            info.external_attr = attr
            dst.writestr(info, data)
    return path


def apply_relabel(plan: RelabelPlan, source: Path, out_dir: Path) -> Path:
    """Write the planned wheel into `out_dir`: every member of `source`, renamed and edited as planned."""
    old = plan.old_dist_info + "/"
    members: dict[str, tuple[bytes, int]] = {}
    with WheelFile(source) as src:
        for item in src.infolist():
            if item.is_dir() or (item.filename.endswith("/RECORD") and item.filename.startswith(old)):
                continue  # folders are implied by their files; WheelFile writes a fresh RECORD
            data = src.read(item.filename)
            target = item.filename
            if target.startswith(old):
                target = plan.new_dist_info + "/" + target[len(old) :]
                if target == f"{plan.new_dist_info}/METADATA":
                    data = plan.metadata.encode()
                elif target == f"{plan.new_dist_info}/WHEEL":
                    data = with_build_tag(data.decode(), plan.build).encode()
            if target == plan.guarded:
                data = GUARD_IMPORT + data
            members[target] = (data, item.external_attr)
    for name, data in plan.added:
        members[name] = (data, 0o644 << 16)
    return write_members(out_dir / plan.filename, members, plan.new_dist_info, plan.epoch)


def retag_build(wheel: Path, build: int, out_dir: Path) -> Path:
    """A copy of a repaired wheel with another build number (after losing a race for the old one)."""
    name, version, _, _ = parse_wheel_filename(wheel.name)
    tag_part = wheel.name[: -len(".whl")].split("-")[-3:]
    members: dict[str, tuple[bytes, int]] = {}
    with WheelFile(wheel) as src:
        info_dir = src.dist_info_path
        epoch = calendar.timegm((*src.infolist()[0].date_time, 0, 0, 0))
        for item in src.infolist():
            if item.filename == src.record_path or item.is_dir():
                continue
            data = src.read(item.filename)
            if item.filename == f"{info_dir}/WHEEL":
                data = with_build_tag(data.decode(), build).encode()
            members[item.filename] = (data, item.external_attr)
    dist = str(name).replace("-", "_")
    target = out_dir / f"{dist}-{version}-{build}-{'-'.join(tag_part)}.whl"
    return write_members(target, members, info_dir, epoch)
