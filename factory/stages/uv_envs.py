"""uv environments holding a tuple's exact torch: for building (provision) and for verifying (verify).

Every package comes from one uv cache and is hard-linked, so each ~5 GB env costs little disk.
"""

from __future__ import annotations

from pathlib import Path

from factory.context import BuildContext
from factory.plan.spec import BuildSpec
from factory.process import Runner
from factory.stages.records import StageFailed
from index_server.contract import Cause


def uv_index_args(ctx: BuildContext) -> list[str]:
    args = ["--index-url", ctx.index_url]
    for url in ctx.extra_index_urls:
        args += ["--extra-index-url", url]
    return [*args, "--index-strategy", "unsafe-best-match"]


def torch_index_args(spec: BuildSpec, ctx: BuildContext) -> list[str]:
    """PyPI's own torch needs nothing more; other CUDA builds come from PyTorch's index."""
    if spec.torch_on_pypi:
        return []
    return ["--extra-index-url", f"{ctx.torch_index}/cu{spec.torch_cuda_tag}"]


def uv_env(ctx: BuildContext) -> dict[str, str]:
    env = dict(ctx.base_env)
    env.update({"UV_CACHE_DIR": str(ctx.uv_cache), "UV_LINK_MODE": "hardlink", "UV_NO_CONFIG": "1"})
    return env


def install_torch_env(
    env_dir: Path,
    interpreter: Path,
    spec: BuildSpec,
    ctx: BuildContext,
    runner: Runner,
    log: Path,
    *extra: str,
) -> Path:
    """A fresh venv at env_dir holding the tuple's exact torch (and `extra` requirements)."""
    env = uv_env(ctx)
    made = runner([ctx.uv, "venv", "--quiet", "--python", interpreter, env_dir], env=env, cwd=None, log=log)
    if not made.ok:
        raise StageFailed("provision", Cause.ENV_FAILED, made.summary())
    python = env_dir / "bin" / "python"
    argv = [ctx.uv, "pip", "install", "--python", python, *uv_index_args(ctx), *torch_index_args(spec, ctx)]
    done = runner([*argv, spec.torch_requirement, *extra], env=env, cwd=None, log=log)
    if not done.ok:
        where = "PyPI" if spec.torch_on_pypi else f"{ctx.torch_index}/cu{spec.torch_cuda_tag}"
        raise StageFailed(
            "provision",
            Cause.TORCH_UNAVAILABLE,
            f"cannot install {spec.torch_requirement} for CPython {spec.python} from {where}: {done.summary()}",
            skipped=True,
        )
    return python
