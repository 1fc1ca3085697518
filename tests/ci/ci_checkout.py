"""A checkout as the runner has it (the files git tracks), and the factory's wheel built from one."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent


def tracked_files(*folders: str) -> list[str]:
    done = subprocess.run(
        ["git", "ls-files", "-z", *folders], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    return [p for p in done.stdout.split("\0") if p and (ROOT / p).is_file()]


def checkout_copy(dest: Path) -> Path:
    """The files git tracks (with this worktree's edits), as `actions/checkout` leaves them."""
    for path in tracked_files():
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, target)
    return dest


def build_wheel(project: Path, out: Path) -> Path:
    """`python -m build --wheel` of a project folder, as pip does for `pip install /project`."""
    argv = [str(BIN / "python"), "-m", "build", "--wheel", "--outdir", str(out), str(project)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = out.glob("cuda_wheel_factory-*.whl")
    return wheel
