"""check: what is wrong with rebuild.yml, build-cells.yml and ci.yml, given matrix.toml's plans.

Pure: takes the parsed workflow files and the planned cells, returns a list of problems. The central
check is coverage: the build jobs rebuild.yml declares, each reading one batch of `factory workflow
batches`, must together build every planned cell exactly once. The rest are the properties a review
found missing, each checked so it cannot come back unseen: the plan sees what discovery found; a profile
never publishes to the production index; each cell patches its sdist once, builds each Python in a run of
its own and publishes it at once; the disk, the compile slots and the time limit are sized to the runner;
cibuildwheel is the pinned one. factory.ci.hardening checks permissions and pinned actions.
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
TABLES_ARTIFACT = "factory-tables"  # the releases and knowledge tables the plan job discovered
_BATCH = re.compile(r"^\$\{\{\s*needs\.([\w-]+)\.outputs\.batch(\d+)\s*\}\}$")
_SLOTS = re.compile(r"\bfactory workflow batches\b[^\n]*--slots\s+(\d+)")
_INDEX_PLAN = re.compile(r"\bfactory plan --json --cells --index\b")
_DISCOVER = re.compile(r"\bfactory discover\b[^\n]*--write-releases (\S+)[^\n]*--write-knowledge (\S+)")
SECRETS = ("FACTORY_INDEX_URL", "FACTORY_PROFILE_INDEX_URL", "FACTORY_UPLOAD_TOKEN")


def triggers(doc: dict[Any, Any]) -> dict[str, Any]:
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


def common_problems(doc: dict[Any, Any]) -> list[str]:
    """bash with pipefail for every run step, and artifacts that expire."""
    problems = []
    if ((doc.get("defaults") or {}).get("run") or {}).get("shell") != "bash":
        problems.append("no `defaults: run: shell: bash`: run steps must fail on a failed pipe (pipefail)")
    for step in _steps(doc):
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
    problems = common_problems(doc)
    on = triggers(doc)
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
    problems += _check_discovery(doc)
    problems += _check_publishing(doc)
    return problems


def _check_discovery(doc: dict[Any, Any]) -> list[str]:
    """Discovery runs before the plan, is not allowed to fail silently, and its tables reach the plan and,
    as an artifact, every cell's job."""
    steps = _steps(doc)
    found = [(i, s, m) for i, s in enumerate(steps) if (m := _DISCOVER.search(str(s.get("run", ""))))]
    if not found:
        return [
            "no step runs `factory discover --write-releases R --write-knowledge K` (the plan must see new releases)"
        ]
    index, discover, m = found[0]
    releases, knowledge = m[1], m[2]
    problems = []
    if discover.get("continue-on-error"):
        problems.append("the discover step is continue-on-error: a failed discovery must stop the run")
    plan_runs = [str(s.get("run", "")) for s in steps[index + 1 :] if "factory plan" in str(s.get("run", ""))]
    if not plan_runs:
        problems.append("no plan step after the discover step")
    for run in plan_runs:
        for flag, path in (("--releases", releases), ("--knowledge", knowledge)):
            if path not in run or flag not in run:
                problems.append(f"the plan step does not plan with the discovered tables ({flag} {path})")
    uploads = [s for s in steps if "upload-artifact" in str(s.get("uses", ""))]
    if not any((s.get("with") or {}).get("name") == TABLES_ARTIFACT and releases in str(s["with"].get("path")) and
               knowledge in str(s["with"].get("path")) for s in uploads):  # fmt: skip
        problems.append(f"the discovered tables are not uploaded as the {TABLES_ARTIFACT!r} artifact for the cells")
    return problems


def _check_publishing(doc: dict[Any, Any]) -> list[str]:
    """Each cell publishes its own wheels: no job gathers them; the batch jobs hand the cells the secrets;
    the plan asks `factory workflow index-url` which index this run's profile plans against."""
    problems = []
    for name, job in _jobs(doc).items():
        for step in job.get("steps") or []:
            if isinstance(step, dict) and "download-artifact" in str(step.get("uses", "")):
                problems.append(
                    f"jobs.{name} downloads artifacts: publishing is each cell's job (one runner cannot hold "
                    "the matrix's wheels)"
                )
        if job.get("uses") == CELLS_WORKFLOW and job.get("secrets") != "inherit":
            passed = job.get("secrets") or {}
            lost = [k for k in SECRETS if f"secrets.{k}" not in str(passed.get(k, ""))]
            if lost:
                problems.append(f"jobs.{name} does not pass {lost} to {CELLS_WORKFLOW}")
    runs = " ".join(str(s.get("run", "")) for s in _steps(doc))
    if _INDEX_PLAN.search(runs) and (
        "factory workflow index-url" not in runs or re.search(r'--index "?\$\{?FACTORY_INDEX_URL', runs)
    ):
        problems.append(
            "the plan step must take its index from `factory workflow index-url` (a profile plans against "
            "FACTORY_PROFILE_INDEX_URL, never the production index)"
        )
    return problems


def check_ci(doc: dict[Any, Any]) -> list[str]:
    problems = common_problems(doc)
    if not any(str(s.get("run", "")).strip() == "bash .ci/run" for s in _steps(doc)):
        problems.append("no step running exactly `bash .ci/run` (the README's test command)")
    return problems
