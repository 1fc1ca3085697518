"""check_cells: what is wrong with build-cells.yml, the job each cell runs (pure).

The properties a review of the first real run found missing, each checked so it cannot come back unseen:
the sdist patched once, on the runner (before-build runs per Python on one tree); each Python built in a
cibuildwheel run of its own by `factory workflow build-cell` and published at once (one run for all loses
every wheel to one failure, and holds every Python's torch on disk); the disk measured per step and put
where the runner's space is; compile slots and nvcc threads passed in; a build time limit that leaves the
job time to upload; the plan's discovered tables installed; cibuildwheel the version pyproject.toml pins.
"""

from __future__ import annotations

import re
from typing import Any

from factory.ci.check import SECRETS, TABLES_ARTIFACT, common_problems, triggers

BUILD_REQUIREMENTS = ("setuptools", "wheel", "packaging", "ninja")
GITHUB_JOB_LIMIT_MINUTES = 360
UPLOAD_MARGIN_MINUTES = 30  # between the builds' time limit and the job's: the last upload and the report
_TIME_LIMIT = re.compile(r"--time-limit-minutes\s+(\d+)")
_CIBW_PIN = re.compile(r"cibuildwheel==([\w.]+)")
# What the repair hook must pass per wheel: its tuple's build number and the checked sdist
_HOOK_FLAGS = {
    "--build": re.compile(r'--build "\$\([^)]*factory workflow tuple-build [^)]*--builds "\$FACTORY_BUILDS"'),
    "--sdist": re.compile(r'--sdist "\$FACTORY_SDIST"'),
}
# The container steps whose disk the log must show, each ending with `factory workflow disk`
_MEASURED = ("CIBW_BEFORE_BUILD_LINUX", "CIBW_REPAIR_WHEEL_COMMAND_LINUX", "CIBW_TEST_COMMAND")


def check_cells_workflow(doc: dict[Any, Any], cibuildwheel_pin: str | None = None) -> list[str]:
    """build-cells.yml: one job per cell, each Python built in its own cibuildwheel run and published."""
    problems = common_problems(doc)
    call = triggers(doc).get("workflow_call") or {}
    if "cells" not in (call.get("inputs") or {}):
        problems.append("not a reusable workflow with a `cells` input (on.workflow_call.inputs.cells)")
    lost = [k for k in SECRETS if k not in (call.get("secrets") or {})]
    if lost:
        problems.append(f"on.workflow_call.secrets does not declare {lost}")
    jobs = {n: j for n, j in (doc.get("jobs") or {}).items() if isinstance(j, dict)}
    fanned = {n: j for n, j in jobs.items() if "matrix" in (j.get("strategy") or {})}
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
    problems += [f"{where}: {p}" for p in _check_build(job, steps, runs, env)]
    problems += [f"{where}: {p}" for p in _check_container_commands(env)]
    problems += [f"{where}: {p}" for p in _check_runner(job, steps, runs, env, cibuildwheel_pin)]
    return problems


def _check_build(job: dict[str, Any], steps: list[dict[str, Any]], runs: str, env: dict[str, str]) -> list[str]:
    """The sdist patched once on the runner; each Python built, published and reported by build-cell."""
    problems = []
    build = [s for s in steps if "factory workflow build-cell" in str(s.get("run", ""))]
    if not build:
        problems.append("no step runs `factory workflow build-cell` (each Python in its own run, published at once)")
    if re.search(r"(^|\s)cibuildwheel(\s|$)", runs):
        problems.append("a run step calls cibuildwheel itself: all Pythons in one run lose each other's wheels")
    if "factory workflow patch" not in runs:
        problems.append("no run step applies the recipe's patches (`factory workflow patch`) once, on the runner")
    for key, value in env.items():
        if key.startswith("CIBW_") and "factory workflow patch" in value:
            problems.append(f"{key} applies the patches: it runs per Python on one tree, the second finds 0 matches")
    if build:
        step_env = {k: str(v) for k, v in (build[0].get("env") or {}).items()}
        lost = [k for k in SECRETS if f"secrets.{k}" not in step_env.get(k, "")]
        if lost:
            problems.append(f"the build-cell step's env does not take {lost} from the secrets")
    if not re.search(r"factory workflow cell-env\b[^\n]*--builds\b", runs):
        problems.append("`factory workflow cell-env` is not given the cell's --builds")
    if not re.search(r"factory workflow cell-env\b[^\n]*--scratch\b", runs):
        problems.append("`factory workflow cell-env` is not given --scratch (the compile cache's volume)")
    if "FACTORY_SDIST=" not in runs:
        problems.append("no step exports FACTORY_SDIST, the checked sdist's path in the container")
    return problems


def _check_container_commands(env: dict[str, str]) -> list[str]:
    """What cibuildwheel runs in the container: a --no-build-isolation build's requirements, the repair
    hook's flags, what is passed in (never a secret), and the disk after each step."""
    problems = []
    hook = env.get("CIBW_REPAIR_WHEEL_COMMAND_LINUX", "")
    if "factory repair" not in hook:
        problems.append("CIBW_REPAIR_WHEEL_COMMAND_LINUX does not run `factory repair`")
    for flag, pattern in _HOOK_FLAGS.items():
        if not pattern.search(hook):
            problems.append(
                f"the repair hook does not pass {flag} "
                '(`--build "$(factory workflow tuple-build ... --builds "$FACTORY_BUILDS" ...)"`, '
                '`--sdist "$FACTORY_SDIST"`)'
            )
    passed = env.get("CIBW_ENVIRONMENT_PASS_LINUX", "").split()
    lost = [v for v in ("FACTORY_BUILDS", "FACTORY_SDIST", "MAX_JOBS", "FACTORY_NVCC_THREADS") if v not in passed]
    if lost:
        problems.append(f"CIBW_ENVIRONMENT_PASS_LINUX does not hand {lost} into the container")
    leaked = [v for v in passed if re.search(r"TOKEN|SECRET|PASSWORD|INDEX_URL", v)]
    if leaked:
        problems.append(f"CIBW_ENVIRONMENT_PASS_LINUX hands {leaked} to the container, where upstream code runs")
    before = env.get("CIBW_BEFORE_BUILD_LINUX", "")
    lacking = [r for r in BUILD_REQUIREMENTS if not re.search(rf"\b{r}\b", before)]
    if "--no-build-isolation" in env.get("CIBW_BUILD_FRONTEND", "") and lacking:
        problems.append(f"a --no-build-isolation build, but before-build does not install {lacking}")
    unmeasured = [k for k in _MEASURED if not re.search(r"factory workflow disk \S+ [^\n]*--du", env.get(k, ""))]
    if unmeasured:
        problems.append(f"{unmeasured} do not end with `factory workflow disk LABEL --du ...` (disk per step)")
    return problems


def _check_runner(
    job: dict[str, Any], steps: list[dict[str, Any]], runs: str, env: dict[str, str], pin: str | None
) -> list[str]:
    """Disk where the space is, the time limit, the plan's tables, and the pinned cibuildwheel."""
    problems = []
    if "data-root" not in runs or "df " not in runs or "FACTORY_SCRATCH=" not in runs:
        problems.append(
            "no step puts Docker's data root and the compile cache where the runner's space is "
            "(data-root, FACTORY_SCRATCH) and logs df"
        )
    limit = _TIME_LIMIT.search(runs)
    timeout = job.get("timeout-minutes")
    if not isinstance(timeout, int) or timeout > GITHUB_JOB_LIMIT_MINUTES - 10:
        problems.append(f"timeout-minutes {timeout!r}: below GitHub's {GITHUB_JOB_LIMIT_MINUTES}, so the job reports")
    if limit is None or "--job-started" not in runs:
        problems.append(
            "build-cell has no --job-started and --time-limit-minutes: a build could run into the job limit"
        )
    elif isinstance(timeout, int) and int(limit[1]) > timeout - UPLOAD_MARGIN_MINUTES:
        problems.append(
            f"--time-limit-minutes {limit[1]} leaves less than {UPLOAD_MARGIN_MINUTES} minutes of the job's "
            f"{timeout} to upload and report"
        )
    uses = [str(s.get("uses", "")) for s in steps]
    install = next((i for i, s in enumerate(steps) if re.search(r"pip install \.(\s|$)", str(s.get("run", "")))), None)
    tables = next(
        (i for i, s in enumerate(steps) if "download-artifact" in uses[i]
         and (s.get("with") or {}).get("name") == TABLES_ARTIFACT
         and str((s.get("with") or {}).get("path", "")).rstrip("/") == "factory/data"),
        None,
    )  # fmt: skip
    if tables is None or install is None or tables > install:
        problems.append(
            f"the {TABLES_ARTIFACT!r} artifact is not downloaded into factory/data before `pip install .`: the "
            "cell would plan without this run's discovered releases"
        )
    installed = _CIBW_PIN.findall(runs)
    if pin is not None and installed != [pin]:
        problems.append(f"the job installs cibuildwheel {installed or 'unpinned'}; pyproject.toml pins =={pin}")
    return problems
