"""workflow: per-tuple cibuildwheel settings for the rebuild workflow, and its check against matrix.toml.

Everything here is pure. `tuple_env` turns a BuildSpec (the same one `factory plan` and `factory build`
use) into the environment the workflow's build job hands to cibuildwheel; `check_rebuild` and
`check_ci` take the parsed workflow files and list what is wrong with them.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from factory.job import torch_arch_list
from factory.matrix import MatrixConfig
from factory.recipes import Recipe
from factory.spec import BuildSpec

# PyTorch's own builder images: CUDA toolkits under /usr/local/cuda-X.Y and the CPythons of manylinux.
# The floor of the tuple picks the image, so the glibc the build sees is never newer than its tag.
BUILDER_IMAGES = {
    "manylinux_2_28_x86_64": "pytorch/manylinux2_28-builder:cuda{cuda}",
    "manylinux_2_17_x86_64": "pytorch/manylinux-builder:cuda{cuda}",
}
TORCH_INDEX = "https://download.pytorch.org/whl/cu{tag}"
GITHUB_MATRIX_LIMIT = 256  # jobs one matrix may expand to
FULL = "full"  # the profile input's name for the whole matrix (a choice input cannot offer "")
_FROM_PLAN = re.compile(r"^\$\{\{\s*fromJSON\(\s*needs\.([\w-]+)\.outputs\.([\w-]+)\s*\)\s*\}\}$")
_STEP_OUTPUT = re.compile(r"\bsteps\.([\w-]+)\.outputs\.([\w-]+)\b")


def builder_image(spec: BuildSpec) -> str:
    try:
        return BUILDER_IMAGES[spec.platform].format(cuda=spec.cuda)
    except KeyError:
        raise ValueError(f"{spec.id}: no builder image for the floor {spec.platform}") from None


def cibw_identifier(spec: BuildSpec) -> str:
    """cibuildwheel's build identifier: `cp311-manylinux_x86_64`."""
    return f"{spec.python_tag}-manylinux_x86_64"


def build_environment(spec: BuildSpec, recipe: Recipe) -> str:
    """CIBW_ENVIRONMENT for cibuildwheel's compile: the recipe's switches, archs and the image's toolkit."""
    cuda_home = f"/usr/local/cuda-{spec.cuda}"
    env = {**recipe.build_env(spec), "TORCH_CUDA_ARCH_LIST": torch_arch_list(spec), "CUDA_HOME": cuda_home}
    return " ".join([*(f"{k}={shlex.quote(v)}" for k, v in env.items()), f"PATH={cuda_home}/bin:$PATH"])


def tuple_env(spec: BuildSpec, recipe: Recipe, profile: str | None) -> dict[str, str]:
    """What the build job exports (to $GITHUB_ENV) before it runs cibuildwheel for one tuple."""
    return {
        "CIBW_BUILD": cibw_identifier(spec),
        "CIBW_MANYLINUX_X86_64_IMAGE": builder_image(spec),
        "CIBW_ENVIRONMENT_LINUX": build_environment(spec, recipe),
        "FACTORY_TUPLE": spec.id,
        "FACTORY_PROFILE": profile or "",
        "FACTORY_TORCH_REQUIREMENT": spec.torch_requirement,
        "FACTORY_TORCH_INDEX": TORCH_INDEX.format(tag=spec.torch_cuda_tag),
        "FACTORY_IMPORTS": ",".join(recipe.import_modules),
    }


def render_env(env: dict[str, str]) -> str:
    """KEY=VALUE lines, the $GITHUB_ENV format (no value may span lines)."""
    for key, value in env.items():
        if "\n" in value:
            raise ValueError(f"{key}: a $GITHUB_ENV value cannot contain a newline")
    return "".join(f"{k}={v}\n" for k, v in env.items())


def _triggers(doc: dict[Any, Any]) -> dict[str, Any]:
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on:` key as the boolean true
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return on if isinstance(on, dict) else {}


def _runs(job: dict[str, Any]) -> list[tuple[str, str]]:
    return [(str(s.get("id", "")), str(s.get("run", ""))) for s in job.get("steps", []) if isinstance(s, dict)]


def check_rebuild(doc: dict[Any, Any], matrix: MatrixConfig, plan_sizes: dict[str, int]) -> list[str]:
    """Problems of rebuild.yml: its matrix must come from `factory plan --json`, its profiles must be
    matrix.toml's, and it must fan out with fail-fast off, build with cibuildwheel and publish by token."""
    problems: list[str] = []
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
    jobs: dict[str, Any] = doc.get("jobs") or {}
    fanned = {n: j for n, j in jobs.items() if isinstance(j, dict) and "matrix" in (j.get("strategy") or {})}
    if not fanned:
        problems.append("no job has a strategy.matrix: the tuples must fan out, one job each")
    for name, job in fanned.items():
        problems += _check_fan_out(name, job, jobs, "profile" in inputs)
    for size_of, size in plan_sizes.items():
        if size > GITHUB_MATRIX_LIMIT:
            problems.append(
                f"`factory plan` ({size_of}) has {size} tuples; one GitHub matrix takes at most "
                f"{GITHUB_MATRIX_LIMIT}: split the build job"
            )
    uploads = [r for j in jobs.values() if isinstance(j, dict) for _, r in _runs(j) if "twine upload" in r]
    wanted = ("secrets.FACTORY_INDEX_URL", "/legacy/", "secrets.FACTORY_UPLOAD_TOKEN", "__token__")
    if not any(all(w in r for w in wanted) for r in uploads):
        problems.append(
            "no publish step runs `twine upload` to ${{ secrets.FACTORY_INDEX_URL }}/legacy/ with the token"
        )
    return problems


def _check_fan_out(name: str, job: dict[str, Any], jobs: dict[str, Any], has_profile: bool) -> list[str]:
    strategy = job["strategy"]
    where = f"jobs.{name}"
    problems = []
    if strategy.get("fail-fast") is not False:
        problems.append(f"{where}.strategy.fail-fast must be false: one failing tuple must not cancel the rest")
    m = _FROM_PLAN.match(str(strategy["matrix"]).strip())
    if m is None:
        return [*problems, f"{where}.strategy.matrix is not `${{{{ fromJSON(needs.<plan>.outputs.<x>) }}}}`"]
    plan_job, output = m[1], m[2]
    needs = job.get("needs", [])
    if plan_job not in ([needs] if isinstance(needs, str) else needs):
        problems.append(f"{where} reads needs.{plan_job} but does not list it in `needs`")
    source = str(((jobs.get(plan_job) or {}).get("outputs") or {}).get(output, ""))
    step = _STEP_OUTPUT.search(source)
    runs = dict(_runs(jobs.get(plan_job) or {}))
    script = runs.get(step[1], "") if step else ""
    if not re.search(r"\bfactory plan\b[^\n]*--json", script):
        problems.append(f"jobs.{plan_job}.outputs.{output} does not come from a step running `factory plan --json`")
    elif has_profile and "--profile" not in script:
        problems.append(f"jobs.{plan_job}: the plan step ignores the profile input")
    if not any("cibuildwheel" in r for _, r in _runs(job)):
        problems.append(f"{where} does not run cibuildwheel")
    env = {**(job.get("env") or {}), **{k: v for s in job.get("steps", []) for k, v in (s.get("env") or {}).items()}}
    repair = str(env.get("CIBW_REPAIR_WHEEL_COMMAND_LINUX", env.get("CIBW_REPAIR_WHEEL_COMMAND", "")))
    if "factory " not in repair:
        problems.append(f"{where}: CIBW_REPAIR_WHEEL_COMMAND does not run `factory` (the same repair as locally)")
    return problems


def check_ci(doc: dict[Any, Any]) -> list[str]:
    jobs = doc.get("jobs") or {}
    if any(r.strip() == "bash .ci/run" for j in jobs.values() if isinstance(j, dict) for _, r in _runs(j)):
        return []
    return ["ci.yml has no step running exactly `bash .ci/run` (the README's test command)"]
