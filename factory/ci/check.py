"""check: what is wrong with rebuild.yml, build-cells.yml and ci.yml, given matrix.toml's plans.

Pure: takes the parsed workflow files and the planned cells, returns a list of problems. The central
check is coverage: the build jobs rebuild.yml declares, each reading one batch of `factory workflow
batches`, must together build every planned cell exactly once.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from factory.ci.workflow import Cell, CellError, batches
from factory.plan.matrix import MatrixConfig

FULL = "full"  # the profile input's name for the whole matrix (a choice input cannot offer "")
CELLS_WORKFLOW = "./.github/workflows/build-cells.yml"
# Oldest major of each action that runs on Node 24 (GitHub stopped running Node 20 actions)
MIN_ACTION_MAJOR = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/upload-artifact": 6,
    "actions/download-artifact": 7,
}
BUILD_REQUIREMENTS = ("setuptools", "wheel", "packaging", "ninja")
_BATCH = re.compile(r"^\$\{\{\s*needs\.([\w-]+)\.outputs\.batch(\d+)\s*\}\}$")
_SLOTS = re.compile(r"\bfactory workflow batches\b[^\n]*--slots\s+(\d+)")
_USES = re.compile(r"^([\w.-]+/[\w.-]+)@v(\d+)")
_INDEX_PLAN = re.compile(r"\bfactory plan --json --cells --index\b")
# What the repair hook must pass per wheel: its tuple's build number and the checked sdist
_HOOK_FLAGS = {
    "--build": re.compile(r'--build "\$\([^)]*factory workflow tuple-build [^)]*--builds "\$FACTORY_BUILDS"'),
    "--sdist": re.compile(r'--sdist "\$FACTORY_SDIST"'),
}


def _triggers(doc: dict[Any, Any]) -> dict[str, Any]:
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on:` key as the boolean true
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return on if isinstance(on, dict) else {}


def _jobs(doc: dict[Any, Any]) -> dict[str, dict[str, Any]]:
    return {n: j for n, j in (doc.get("jobs") or {}).items() if isinstance(j, dict)}


def _steps(doc: dict[Any, Any]) -> list[dict[str, Any]]:
    return [s for j in _jobs(doc).values() for s in j.get("steps", []) if isinstance(s, dict)]


def _common(doc: dict[Any, Any]) -> list[str]:
    """bash with pipefail for every run step, and actions on Node 24."""
    problems = []
    if ((doc.get("defaults") or {}).get("run") or {}).get("shell") != "bash":
        problems.append("no `defaults: run: shell: bash`: run steps must fail on a failed pipe (pipefail)")
    for step in _steps(doc):
        m = _USES.match(str(step.get("uses", "")))
        if m and m[1] in MIN_ACTION_MAJOR and int(m[2]) < MIN_ACTION_MAJOR[m[1]]:
            problems.append(f"{m[0]} runs on Node 20; use {m[1]}@v{MIN_ACTION_MAJOR[m[1]]} or newer")
        if "upload-artifact" in str(step.get("uses", "")) and "retention-days" not in (step.get("with") or {}):
            problems.append(f"{step.get('uses')} without retention-days")
    return problems


def check_coverage(doc: dict[Any, Any], cells: Sequence[Cell], size_of: str, *, has_profile: bool = False) -> list[str]:
    """Every planned cell built by exactly one of rebuild.yml's batch jobs."""
    jobs = _jobs(doc)
    readers: list[tuple[str, str, int]] = []  # (job, plan job, batch number)
    for name, job in jobs.items():
        m = _BATCH.match(str((job.get("with") or {}).get("cells", "")).strip())
        if job.get("uses") == CELLS_WORKFLOW and m:
            readers.append((name, m[1], int(m[2])))
    if not readers:
        return [f"no job calls {CELLS_WORKFLOW} with `cells: ${{{{ needs.<plan>.outputs.batchN }}}}`"]
    problems = []
    slots_seen = set()
    for plan_job in {r[1] for r in readers}:
        runs = " ".join(str(s.get("run", "")) for s in jobs.get(plan_job, {}).get("steps", []))
        found = _SLOTS.search(runs)
        if found is None:
            problems.append(f"jobs.{plan_job} has no step running `factory workflow batches --slots N`")
            continue
        slots_seen.add(int(found[1]))
        if has_profile and "--profile" not in runs:
            problems.append(f"jobs.{plan_job}: the plan step ignores the profile input")
        if not _INDEX_PLAN.search(runs) or not re.search(r"\bfactory workflow batches\b[^\n]*--plan\b", runs):
            problems.append(
                f"jobs.{plan_job}: the plan step must batch `factory plan --json --cells --index URL`'s output "
                "(`factory workflow batches --plan FILE`): a week with nothing new must build nothing"
            )
        outputs = jobs[plan_job].get("outputs") or {}
        problems += [
            f"jobs.{plan_job}.outputs has no batch{n} (read by jobs.{job})"
            for job, pj, n in readers
            if pj == plan_job and f"batch{n}" not in outputs
        ]
    if len(slots_seen) != 1:
        return problems or ["the batch jobs read plan jobs with different --slots"]
    try:
        split = batches(cells, slots_seen.pop())
    except CellError as err:
        return [*problems, f"{size_of}: {err}"]
    built = Counter(c.id for _, _, n in readers if 1 <= n <= len(split) for c in split[n - 1])
    problems += [f"jobs.{j} reads batch{n}, which `--slots` never fills" for j, _, n in readers if n > len(split)]
    missing = [c.id for c in cells if built[c.id] == 0]
    twice = sorted(i for i, k in built.items() if k > 1)
    if missing:
        problems.append(f"{size_of}: {len(missing)} cells built by no job (e.g. {missing[0]}): add batch jobs")
    if twice:
        problems.append(f"{size_of}: {len(twice)} cells built by more than one job (e.g. {twice[0]})")
    return problems


def check_rebuild(doc: dict[Any, Any], matrix: MatrixConfig, plans: dict[str, list[Cell]]) -> list[str]:
    problems = _common(doc)
    on = _triggers(doc)
    if not (on.get("schedule") or [{}])[0].get("cron"):
        problems.append("no `on.schedule` cron: the rebuild must run on a schedule")
    if "workflow_dispatch" not in on:
        problems.append("no `on.workflow_dispatch`: the rebuild must be startable by hand")
    inputs = (on.get("workflow_dispatch") or {}).get("inputs") or {}
    offered = [str(o) for o in (inputs.get("profile") or {}).get("options", [])]
    for name in offered:
        if name != FULL and name not in matrix.profiles:
            problems.append(f"profile input offers {name!r}, which matrix.toml does not define")
    for name in matrix.profiles:
        if "profile" in inputs and name not in offered:
            problems.append(f"matrix.toml's profile {name!r} is not among the profile input's options")
    for size_of, cells in plans.items():
        problems += check_coverage(doc, cells, size_of, has_profile="profile" in inputs)
    publish = [s for s in _steps(doc) if "twine upload" in str(s.get("run", ""))]
    env_ok = any(
        "secrets.FACTORY_UPLOAD_TOKEN" in str((s.get("env") or {}).get("TWINE_PASSWORD", ""))
        and "secrets." not in str(s.get("run", ""))
        and "/legacy/" in str(s.get("run", "")) + str(s.get("env", ""))
        for s in publish
    )
    if not env_ok:
        problems.append(
            "no publish step runs `twine upload` to the index's /legacy/ with the token in TWINE_PASSWORD "
            "(secrets belong in env, never on the command line)"
        )
    return problems


def check_cells_workflow(doc: dict[Any, Any]) -> list[str]:
    """build-cells.yml: one cibuildwheel job per cell, with what a --no-build-isolation build needs."""
    problems = _common(doc)
    call = _triggers(doc).get("workflow_call") or {}
    if "cells" not in (call.get("inputs") or {}):
        problems.append("not a reusable workflow with a `cells` input (on.workflow_call.inputs.cells)")
    fanned = {n: j for n, j in _jobs(doc).items() if "matrix" in (j.get("strategy") or {})}
    if len(fanned) != 1:
        return [*problems, "expected exactly one job with a strategy.matrix (one job per cell)"]
    ((name, job),) = fanned.items()
    where = f"jobs.{name}"
    if str(job["strategy"]["matrix"]).replace(" ", "") != "${{fromJSON(inputs.cells)}}":
        problems.append(f"{where}.strategy.matrix must be `${{{{ fromJSON(inputs.cells) }}}}`")
    if job["strategy"].get("fail-fast") is not False:
        problems.append(f"{where}.strategy.fail-fast must be false: one failing cell must not cancel the rest")
    steps = [s for s in job.get("steps", []) if isinstance(s, dict)]
    runs = "\n".join(str(s.get("run", "")) for s in steps)
    env = {**(job.get("env") or {}), **{k: str(v) for s in steps for k, v in (s.get("env") or {}).items()}}
    if "cibuildwheel" not in runs:
        problems.append(f"{where} does not run cibuildwheel")
    hook = env.get("CIBW_REPAIR_WHEEL_COMMAND_LINUX", "")
    if "factory repair" not in hook:
        problems.append(f"{where}: CIBW_REPAIR_WHEEL_COMMAND_LINUX does not run `factory repair`")
    for flag, pattern in _HOOK_FLAGS.items():
        if not pattern.search(hook):
            problems.append(
                f"{where}: the repair hook does not pass {flag} "
                '(`--build "$(factory workflow tuple-build ... --builds "$FACTORY_BUILDS" ...)"`, '
                '`--sdist "$FACTORY_SDIST"`)'
            )
    passed = env.get("CIBW_ENVIRONMENT_PASS_LINUX", "").split()
    lost = [v for v in ("FACTORY_BUILDS", "FACTORY_SDIST") if v not in passed]
    if lost:
        problems.append(f"{where}: CIBW_ENVIRONMENT_PASS_LINUX does not hand {lost} to the repair hook")
    if not re.search(r"factory workflow cell-env\b[^\n]*--builds\b", runs):
        problems.append(f"{where}: `factory workflow cell-env` is not given the cell's --builds")
    if "FACTORY_SDIST=" not in runs:
        problems.append(f"{where}: no step exports FACTORY_SDIST, the checked sdist's path in the container")
    before = env.get("CIBW_BEFORE_BUILD_LINUX", "")
    lacking = [r for r in BUILD_REQUIREMENTS if not re.search(rf"\b{r}\b", before)]
    if "--no-build-isolation" in env.get("CIBW_BUILD_FRONTEND", "") and lacking:
        problems.append(f"{where}: a --no-build-isolation build, but before-build does not install {lacking}")
    if "MAX_JOBS" not in runs or "MAX_JOBS" not in env.get("CIBW_ENVIRONMENT_PASS_LINUX", ""):
        problems.append(f"{where}: MAX_JOBS is not sized to the runner and passed into the container")
    if "docker" not in runs or "df -h" not in runs:
        problems.append(f"{where}: no step frees disk before the builder image is pulled")
    return problems


def check_ci(doc: dict[Any, Any]) -> list[str]:
    problems = _common(doc)
    if not any(str(s.get("run", "")).strip() == "bash .ci/run" for s in _steps(doc)):
        problems.append("no step running exactly `bash .ci/run` (the README's test command)")
    return problems
