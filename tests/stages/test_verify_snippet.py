"""The import verify runs: every symbol bound at load; beside a stand-in torch of another CUDA major (the
guide's cu118 wheels against PyPI's cu121 torch), the wheel's own CUDA told to its import guard, so the
package's Python code is still imported against the torch release; and on a machine without a GPU, where
triton 3.2 cannot define an autotuned kernel, its driver stood in for the import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from factory.stages.verify import TRITON_NO_DRIVER, import_beside_triton, import_snippet

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


# triton 3.2's shape: the active driver is created on first use, and with no GPU there is none; its
# autotune decorator asks the driver for a benchmarker while the decorated module is being imported
FAKE_TRITON = """
__version__ = "3.2.0"
"""
FAKE_TRITON_DRIVER = """
class _Lazy:
    def __getattr__(self, name):
        raise RuntimeError("0 active drivers ([]). There should only be one.")
class DriverConfig:
    def __init__(self):
        self.active = _Lazy()
    def set_active(self, driver):
        self.active = driver
driver = DriverConfig()
"""
TUNED = """
from triton.runtime import driver
bench = driver.active.get_benchmarker()  # what @triton.autotune does at decoration time
def launch():
    return bench()
"""


def _tuned(tmp_path: Path, snippet: str) -> subprocess.CompletedProcess[str]:
    for folder, text in {
        "torch": FAKE_TORCH,
        "triton": FAKE_TRITON,
        "triton/runtime": "from triton.runtime.driver import driver\n",  # as triton's own runtime/__init__ does
        "tuned": TUNED,
    }.items():
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / "__init__.py").write_text(text)
    (tmp_path / "triton/runtime/driver.py").write_text(FAKE_TRITON_DRIVER)
    return subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_a_stand_in_triton_driver_lets_an_autotuned_package_import_without_a_gpu(tmp_path: Path) -> None:
    plain = _tuned(tmp_path, import_snippet(("tuned",)))
    assert plain.returncode != 0 and TRITON_NO_DRIVER in plain.stderr
    stood = _tuned(tmp_path, import_snippet(("tuned",), triton_stand_in=True))
    assert stood.returncode == 0, stood.stderr
    assert stood.stdout.strip().endswith("beside a stand-in driver of triton 3.2.0")
    # the stand-in answers the import only: running a kernel says why it cannot
    launch = _tuned(tmp_path, import_snippet(("tuned",), triton_stand_in=True) + "\nimport tuned; tuned.launch()")
    assert launch.returncode != 0 and "no GPU on this build machine" in launch.stderr


def test_the_driver_is_stood_in_only_after_the_no_driver_failure_and_only_where_allowed(tmp_path: Path) -> None:
    ran: list[str] = []

    def run(snippet: str) -> subprocess.CompletedProcess[str]:
        ran.append(snippet)
        return _tuned(tmp_path, snippet)

    def failure(done: subprocess.CompletedProcess[str]) -> str:
        return done.stderr if done.returncode else ""

    done, stood_in = import_beside_triton(run, failure, ("tuned",))
    assert stood_in and done.returncode == 0 and len(ran) == 2
    assert done.stdout.strip().endswith("beside a stand-in driver of triton 3.2.0")
    ran.clear()
    # on a machine with a GPU (verify's gpu_check) the failure stands: nothing is stood in
    done, stood_in = import_beside_triton(run, failure, ("tuned",), may_stand_in=False)
    assert not stood_in and done.returncode != 0 and TRITON_NO_DRIVER in done.stderr and len(ran) == 1
    ran.clear()
    # another failure is not retried
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "__init__.py").write_text("raise ImportError('undefined symbol: _ZN3c10')\n")
    done, stood_in = import_beside_triton(run, failure, ("broken",))
    assert not stood_in and "undefined symbol" in done.stderr and len(ran) == 1
