"""The import verify runs: every symbol bound at load, and, beside a stand-in torch of another CUDA major
(the guide's cu118 wheels against PyPI's cu121 torch), the wheel's own CUDA told to its import guard, so
the package's Python code is still imported against the torch release."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from factory.stages.verify import import_snippet

FAKE_TORCH = """
import types
__version__ = "2.3.1+cu121"
version = types.SimpleNamespace(cuda="12.1")
"""
# a package whose guard refuses another CUDA major, and whose code needs something torch 2.3 lacks
GUARDED = """
import torch
if int(torch.version.cuda.split(".")[0]) != 11:
    raise ImportError("wrong build for this torch: torch is built for CUDA " + torch.version.cuda)
if {needs_custom_op} and not hasattr(torch, "library"):
    raise AttributeError("module 'torch' has no attribute 'library'")
"""


def _run(tmp_path: Path, snippet: str, needs_custom_op: bool) -> subprocess.CompletedProcess[str]:
    (tmp_path / "torch").mkdir(exist_ok=True)
    (tmp_path / "torch" / "__init__.py").write_text(FAKE_TORCH)
    (tmp_path / "guarded").mkdir(exist_ok=True)
    (tmp_path / "guarded" / "__init__.py").write_text(GUARDED.format(needs_custom_op=needs_custom_op))
    return subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_the_guard_is_told_the_wheels_cuda_and_the_package_code_still_runs(tmp_path: Path) -> None:
    refused = _run(tmp_path, import_snippet(("guarded",)), needs_custom_op=False)
    assert refused.returncode != 0 and "wrong build for this torch" in refused.stderr
    told = _run(tmp_path, import_snippet(("guarded",), guard_cuda="11.8"), needs_custom_op=False)
    assert told.returncode == 0 and "imported guarded with torch 2.3.1+cu121" in told.stdout
    # what the guide's causal-conv1d 1.7.0 hid while the package import was skipped: its code fails on torch 2.3
    broken = _run(tmp_path, import_snippet(("guarded",), guard_cuda="11.8"), needs_custom_op=True)
    assert broken.returncode != 0 and "has no attribute 'library'" in broken.stderr
