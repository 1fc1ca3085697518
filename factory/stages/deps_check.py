"""Before compiling: can the release's declared dependencies be installed beside the tuple's torch at all?

mamba-ssm 2.3.x declares triton>=3.5, which only torch >= 2.9 allows: against torch 2.5 its wheel would
compile for minutes and then fail verify. The dependencies the patched sources declare statically
(pyproject.toml's [project] table, else PKG-INFO from Metadata-Version 2.2 on) are resolved with uv beside
the exact torch first; a conflict fails the build stage at once with uv's reason, and `factory learn`
records the pair like any other build it saw fail. Dependencies computed by setup.py are not checked here
(verify still installs and imports the package with them).
"""

from __future__ import annotations

import tomllib
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import Version

from factory.context import BuildContext
from factory.plan.job import Job
from factory.process import Runner
from factory.stages.provision import Toolchain
from factory.stages.records import StageFailed
from factory.stages.uv_envs import torch_index_args, uv_env, uv_index_args
from index_server.contract import Cause


def declared_requirements(tree: Path) -> list[str] | None:
    """The run-time requirements the sources declare without running code; None when they do not."""
    pyproject = tree / "pyproject.toml"
    if pyproject.is_file():
        project = tomllib.loads(pyproject.read_text()).get("project", {})
        if "dependencies" in project and "dependencies" not in project.get("dynamic", []):
            return [str(d) for d in project["dependencies"]]
    pkg_info = tree / "PKG-INFO"
    if pkg_info.is_file():
        headers = HeaderParser().parsestr(pkg_info.read_text(errors="replace"))
        dynamic = {d.lower() for d in headers.get_all("Dynamic", [])}
        if Version(headers.get("Metadata-Version", "1.0")) >= Version("2.2") and "requires-dist" not in dynamic:
            return list(headers.get_all("Requires-Dist", []))
    return None


def unconditional(requirements: list[str]) -> list[str]:
    """Those that apply to every install (no extra), as written; unparseable ones are left to pip."""
    kept = []
    for text in requirements:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if req.marker is None or "extra" not in str(req.marker):
            kept.append(str(req))
    return kept


def check_dependencies(
    job: Job, ctx: BuildContext, toolchain: Toolchain, tree: Path, work: Path, runner: Runner, log: Path
) -> list[str] | None:
    """The requirements checked (None: none declared statically); raises StageFailed on a conflict."""
    declared = declared_requirements(tree)
    if declared is None:
        return None
    requirements = unconditional(declared)
    work.mkdir(parents=True, exist_ok=True)
    (work / "requirements.in").write_text("\n".join([job.spec.torch_requirement, *requirements]) + "\n")
    argv = [
        ctx.uv, "pip", "compile", "--quiet", "--python", toolchain.python, *uv_index_args(ctx),
        *torch_index_args(job.spec, ctx), work / "requirements.in", "-o", work / "requirements.txt",
    ]  # fmt: skip
    done = runner(argv, env=uv_env(ctx), cwd=None, log=log)
    if not done.ok:
        lines = [ln.strip() for ln in done.output.splitlines() if ln.strip()]
        why = next((ln for ln in lines if ln.startswith("╰─▶") or "unsatisfiable" in ln), done.summary())
        raise StageFailed(
            "build",
            Cause.DEPENDENCY_CONFLICT,
            f"{job.package} {job.spec.version}'s declared dependencies cannot be installed beside "
            f"{job.spec.torch_requirement}: {why.lstrip('╰─▶ ')} (nothing was compiled)",
        )
    return requirements
