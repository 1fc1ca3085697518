"""Finding the base CPython of a tuple: pyenv's versions folder first (newest patch release), then PATH."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from packaging.version import InvalidVersion, Version

from factory.context import BuildContext
from factory.stages.records import StageFailed
from index_server.contract import Cause


def find_interpreter(python: str, ctx: BuildContext) -> Path:
    for root in ctx.python_dirs:
        found = sorted(root.glob(f"{python}.*/bin/python{python}"), key=_version_of_dir, reverse=True)
        found = [p for p in found if re.fullmatch(rf"{re.escape(python)}\.\d+", p.parents[1].name)]
        if found:
            return found[0]
    on_path = shutil.which(f"python{python}", path=ctx.base_env.get("PATH"))
    if on_path:
        return Path(on_path)
    raise StageFailed(
        "provision",
        Cause.INTERPRETER_MISSING,
        f"no CPython {python} found (looked in {', '.join(map(str, ctx.python_dirs)) or 'nothing'} and PATH); "
        f"install it with `pyenv install {python}` or `uv python install {python}`",
        skipped=True,
    )


def _version_of_dir(p: Path) -> Version:
    try:
        return Version(p.parents[1].name)
    except InvalidVersion:
        return Version("0")
