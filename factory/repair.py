"""repair: auditwheel to the tuple's glibc floor, then the factory's metadata.

Only a tag auditwheel verified is ever written: the repaired wheel keeps auditwheel's tags, and
`auditwheel show` must agree (its symbol policy no newer than the floor; every outside library one that
torch or the NVIDIA wheels provide). Then the wheel is rewritten with the local version label, the torch
pin, dependencies that can hold beside this torch, a provenance record and the import-time guard;
wheel's WheelFile writes a fresh, valid RECORD.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from wheel.wheelfile import WheelFile

from factory import __version__
from factory.context import BuildContext
from factory.platform_tag import PlatformTag
from factory.process import Runner
from factory.recipes import Recipe
from factory.records import StageFailed
from factory.spec import BuildSpec
from index_server.contract import Cause

# Provided at run time by torch and its nvidia-* dependencies: never bundled into our wheels.
EXCLUDES = ("libtorch*", "libc10*", "libshm*", "libcudart.so.*", "libcuda.so.*", "libcu*", "libnv*")


@dataclass(frozen=True, kw_only=True)
class RepairedWheel:
    path: Path
    platform_tags: tuple[str, ...]
    sym_tag: str
    dependency_changes: list[str]


def check_show(show: dict[str, Any], spec: BuildSpec) -> None:
    """auditwheel show must agree with the floor we tag: raises StageFailed if not."""
    if PlatformTag.parse(show["sym_tag"]).newer_than(PlatformTag.parse(spec.platform)):
        raise StageFailed(
            "repair",
            Cause.REPAIR_REFUSED_FLOOR,
            f"auditwheel show: symbol versions need {show['sym_tag']}, newer than the floor {spec.platform}",
        )
    stray = [lib for lib in show.get("external_libs", {}) if not any(fnmatch.fnmatch(lib, p) for p in EXCLUDES)]
    if stray:
        raise StageFailed(
            "repair", Cause.REPAIR_EXTERNAL_LIBS, f"auditwheel show: external libraries not vendored: {stray}"
        )


def rewrite_dependencies(requires: list[str], torch_requires: list[str]) -> tuple[list[str], list[str]]:
    """Replace a requirement that the tuple's torch's own exact pin cannot satisfy by that pin."""
    pins: dict[str, Requirement] = {}
    for line in torch_requires:
        req = Requirement(line)
        exact = [s for s in req.specifier if s.operator == "=="]
        if exact:
            pins[canonicalize_name(req.name)] = req
    out, changes = [], []
    for line in requires:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            out.append(line)
            continue
        pin = pins.get(canonicalize_name(req.name))
        if pin is not None:
            pinned = next(s.version for s in pin.specifier if s.operator == "==")
            if not req.specifier.contains(pinned, prereleases=True):
                marker = f"; {req.marker}" if req.marker else ""
                new = f"{req.name}=={pinned}{marker}"
                changes.append(f"{line} -> {new} (torch pins {pin.name}=={pinned})")
                out.append(new)
                continue
        out.append(line)
    return out, changes


def rewrite_metadata(text: str, spec: BuildSpec, torch_requires: list[str]) -> tuple[str, list[str]]:
    head, sep, body = text.partition("\n\n")
    lines = head.splitlines()
    requires = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Requires-Dist:")]
    kept = [r for r in requires if canonicalize_name(Requirement(r).name) != "torch"]
    kept, changes = rewrite_dependencies(kept, torch_requires)
    out, placed = [], False
    for line in lines:
        if line.startswith("Version:"):
            out.append(f"Version: {spec.wheel_version}")
        elif line.startswith("Requires-Dist:"):
            if not placed:
                out += [f"Requires-Dist: {spec.torch_pin}", *(f"Requires-Dist: {r}" for r in kept)]
                placed = True
        else:
            out.append(line)
    if not placed:
        out += [f"Requires-Dist: {spec.torch_pin}", *(f"Requires-Dist: {r}" for r in kept)]
    return "\n".join(out) + (sep + body if sep else "\n"), changes


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


def relabel(
    repaired: Path,
    spec: BuildSpec,
    recipe: Recipe,
    provenance: dict[str, Any],
    torch_requires: list[str],
    out_dir: Path,
) -> tuple[Path, list[str]]:
    name, _, _, _tags = parse_wheel_filename(repaired.name)
    stem = repaired.name[: -len(".whl")]
    tag_part = stem.split("-", 2)[2]
    dist = str(name).replace("-", "_")
    new_path = out_dir / f"{dist}-{spec.wheel_version}-{tag_part}.whl"
    new_info = f"{dist}-{spec.wheel_version}.dist-info"
    changes: list[str] = []
    guard_target = f"{recipe.top_level}/__init__.py"
    with WheelFile(repaired) as src, WheelFile(new_path, "w") as dst:
        old_info = src.dist_info_path
        for item in src.infolist():
            if item.is_dir() or (item.filename.endswith("/RECORD") and item.filename.startswith(old_info + "/")):
                continue  # folders are implied by their files; WheelFile writes a fresh RECORD
            data = src.read(item.filename)
            target = item.filename
            if target.startswith(old_info + "/"):
                target = new_info + target[len(old_info) :]
                if target == f"{new_info}/METADATA":
                    text, changes = rewrite_metadata(data.decode(), spec, torch_requires)
                    data = text.encode()
            if target == guard_target:
                data = b"from . import _factory_guard  # refuses a mismatched torch before the extension loads\n" + data
            dst.writestr(target, data)
        dst.writestr(f"{recipe.top_level}/_factory_guard.py", render_guard(spec).encode())
        provenance = {**provenance, "dependency_changes": changes}
        dst.writestr(f"{new_info}/factory_build.json", json.dumps(provenance, indent=2, sort_keys=True).encode())
    return new_path, changes


def torch_requires(env: Path) -> list[str]:
    """The Requires-Dist of the torch installed in a venv (its exact triton and CUDA library pins)."""
    metas = list(env.glob("lib/python*/site-packages/torch-*.dist-info/METADATA"))
    if not metas:
        return []
    return [
        line.split(":", 1)[1].strip() for line in metas[0].read_text().splitlines() if line.startswith("Requires-Dist:")
    ]


def repair_wheel(
    spec: BuildSpec,
    ctx: BuildContext,
    recipe: Recipe,
    raw: Path,
    pins: list[str],
    provenance: dict[str, Any],
    tuple_dir: Path,
    runner: Runner,
    log: Path,
) -> RepairedWheel:
    work = tuple_dir / "repair"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    tool_env = dict(ctx.base_env)
    tool_env["PATH"] = f"{ctx.auditwheel.parent}:{tool_env.get('PATH', '/usr/bin:/bin')}"
    excludes = [arg for pattern in EXCLUDES for arg in ("--exclude", pattern)]
    argv = [ctx.auditwheel, "repair", "--plat", spec.platform, *excludes, "-w", work, raw]
    done = runner(argv, env=tool_env, cwd=None, log=log)
    if not done.ok:
        refusal = next(
            (ln.strip() for ln in done.output.splitlines() if "cannot repair" in ln or "too-recent" in ln), ""
        )
        cause = Cause.REPAIR_REFUSED_FLOOR if refusal else Cause.REPAIR_FAILED
        raise StageFailed("repair", cause, refusal or done.summary())
    repaired = next(work.glob("*.whl"))
    show = audit_show(repaired, spec, ctx, tool_env, runner, log)
    tags = tuple(t.platform for t in parse_wheel_filename(repaired.name)[3])
    if spec.platform not in tags:
        raise StageFailed("repair", Cause.REPAIR_REFUSED_FLOOR, f"auditwheel tagged {tags}, not {spec.platform}")
    stamped = {
        **provenance,
        "auditwheel": {"sym_tag": show["sym_tag"], "tags": sorted(tags)},
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "factory_version": __version__,
    }
    final_dir = tuple_dir / "wheel"
    if final_dir.exists():
        shutil.rmtree(final_dir)
    final_dir.mkdir()
    path, changes = relabel(repaired, spec, recipe, stamped, pins, final_dir)
    final = audit_show(path, spec, ctx, tool_env, runner, log)  # the wheel we publish, not only auditwheel's
    if final["sym_tag"] != show["sym_tag"]:
        raise StageFailed(
            "repair",
            Cause.REPAIR_FAILED,
            f"rewriting changed auditwheel's verdict: {show['sym_tag']} -> {final['sym_tag']}",
        )
    return RepairedWheel(path=path, platform_tags=tags, sym_tag=show["sym_tag"], dependency_changes=changes)


def audit_show(
    wheel: Path, spec: BuildSpec, ctx: BuildContext, env: dict[str, str], runner: Runner, log: Path
) -> dict[str, Any]:
    """`auditwheel show --json` of `wheel`, checked against the tuple's floor (see check_show)."""
    shown = runner([ctx.auditwheel, "show", "--json", wheel], env=env, cwd=None, log=log)
    if not shown.ok or "{" not in shown.output:
        raise StageFailed("repair", Cause.REPAIR_FAILED, f"auditwheel show {wheel.name} failed: {shown.summary()}")
    show: dict[str, Any] = json.loads(shown.output[shown.output.index("{") :])
    check_show(show, spec)
    return show
