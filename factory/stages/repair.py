"""repair: auditwheel to the tuple's glibc floor, then the factory's relabel, planned and applied.

The repaired wheel keeps auditwheel's tags, and `auditwheel show` must agree with them before and after
the relabel (the label, the torch pin, dependencies that hold beside this torch, provenance, the guard).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import parse_wheel_filename

from factory.context import BuildContext
from factory.plan.job import Job
from factory.plan.platform_tag import PlatformTag
from factory.process import Runner
from factory.stages.auditwheel import audit_repair, audit_show, tool_env
from factory.stages.floor import raised_floor_record, wheel_symbols_above
from factory.stages.gpu_archs import wheel_archs
from factory.stages.records import StageFailed
from factory.stages.repair_plan import WHEEL_FORMAT_VERSION, apply_relabel, plan_relabel, read_facts
from index_server.contract import Cause


@dataclass(frozen=True, kw_only=True)
class RepairedWheel:
    path: Path
    platform_tags: tuple[str, ...]
    sym_tag: str
    dependency_changes: list[str]


def _fresh(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def repair_wheel(
    job: Job,
    ctx: BuildContext,
    raw: Path,
    pins: list[str],
    provenance: dict[str, Any],
    tuple_dir: Path,
    runner: Runner,
    log: Path,
    *,
    build: int,
    epoch: int,
) -> RepairedWheel:
    """`pins`: the Requires-Dist of the tuple's torch; `provenance`: factory_build.json so far;
    `build`: the PEP 427 build number; `epoch`: every member's timestamp (sdist_epoch of the sdist).

    No wall-clock time enters the wheel (the index's catalog records when it was published), nor the
    factory's release: `wheel_format` (WHEEL_FORMAT_VERSION) names what wrote the wheel's bytes."""
    spec = job.spec
    env = tool_env(ctx)
    platform, floor = spec.platform, None
    if spec.accept_raised_floor:
        granted = audit_show(raw, None, ctx, env, runner, log)["sym_tag"]
        if PlatformTag.parse(granted).newer_than(PlatformTag.parse(platform)):
            floor = raised_floor_record(platform, granted, wheel_symbols_above(raw, platform))
            platform = granted
    repaired = audit_repair(raw, platform, ctx, env, _fresh(tuple_dir / "repair"), runner, log)
    show = audit_show(repaired, platform, ctx, env, runner, log)
    tags = tuple(t.platform for t in parse_wheel_filename(repaired.name)[3])
    if platform not in tags:
        raise StageFailed("repair", Cause.REPAIR_REFUSED_FLOOR, f"auditwheel tagged {tags}, not {platform}")
    stamped = {
        **provenance,
        "auditwheel": {"sym_tag": show["sym_tag"], "tags": sorted(tags)},
        "gpu_archs": wheel_archs(repaired),
        "wheel_format": WHEEL_FORMAT_VERSION,
    }
    if floor is not None:
        stamped["floor"] = floor
    plan = plan_relabel(job, read_facts(repaired), stamped, pins, build=build, epoch=epoch)
    path = apply_relabel(plan, repaired, _fresh(tuple_dir / "wheel"))
    final = audit_show(path, platform, ctx, env, runner, log)  # the wheel we publish, not only auditwheel's
    if final["sym_tag"] != show["sym_tag"]:
        raise StageFailed(
            "repair",
            Cause.REPAIR_FAILED,
            f"rewriting changed auditwheel's verdict: {show['sym_tag']} -> {final['sym_tag']}",
        )
    return RepairedWheel(
        path=path, platform_tags=tags, sym_tag=show["sym_tag"], dependency_changes=plan.dependency_changes
    )
