"""The guard's first-use GPU check: a GPU the wheel has neither SASS nor a usable PTX for gets a clear error
naming the GPU, its compute capability, the wheel's archs and the fix; a fitting or absent GPU passes.
The guard module is rendered for real and run against a fake torch whose CUDA device is chosen per test.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from spec_builders import make_spec

from factory.stages.repair_plan import render_guard

EXT = "fake_guarded_ext"


class FakeCuda:
    def __init__(self, capability: tuple[int, int] | None, name: str = "NVIDIA H200") -> None:
        self.capability, self.name, self.asked = capability, name, 0

    def is_available(self) -> bool:
        self.asked += 1
        return self.capability is not None

    def current_device(self) -> int:
        return 0

    def get_device_capability(self, device: int) -> tuple[int, int]:
        assert self.capability is not None
        return self.capability

    def get_device_name(self, device: int) -> str:
        return self.name


@pytest.fixture
def extension(tmp_path: Path) -> Iterator[Path]:
    """A stand-in for the compiled extension: a module on sys.path with one kernel entry point."""
    (tmp_path / f"{EXT}.py").write_text("def forward(x):\n    return x * 2\n")
    sys.path.insert(0, str(tmp_path))
    saved = sys.modules.get("torch")
    yield tmp_path
    sys.path.remove(str(tmp_path))
    sys.modules.pop(EXT, None)
    if saved is None:
        sys.modules.pop("torch", None)
    else:
        sys.modules["torch"] = saved


def load(cuda: FakeCuda, sass: list[str], ptx: list[str]) -> dict[str, object]:
    """Run the rendered guard (torch 2.14.1 + CUDA 13.0, as the spec) with `cuda` as torch.cuda."""
    fake = types.ModuleType("torch")
    fake.__version__ = "2.14.1+cu130"  # type: ignore[attr-defined]
    fake.version = types.SimpleNamespace(cuda="13.0")  # type: ignore[attr-defined]
    fake._C = types.SimpleNamespace(_GLIBCXX_USE_CXX11_ABI=True)  # type: ignore[attr-defined]
    fake.cuda = cuda  # type: ignore[attr-defined]
    sys.modules["torch"] = fake
    sys.modules.pop(EXT, None)
    namespace: dict[str, object] = {}
    code = render_guard(make_spec(archs=tuple(sass)), {"sass": sass, "ptx": ptx}, (EXT,))
    exec(compile(code, "_factory_guard.py", "exec"), namespace)
    return namespace


def use() -> object:
    module = __import__(EXT)
    return module.forward(21)


def test_a_sass_less_gpu_is_told_what_to_install(extension: Path) -> None:
    load(FakeCuda((9, 0)), sass=["80"], ptx=[])
    with pytest.raises(RuntimeError) as err:
        use()
    message = str(err.value)
    assert "NVIDIA H200 has compute capability 9.0" in message
    assert "sm_80; no PTX" in message
    assert "--index-url <factory>/cu13/simple" in message and "archs" in message


def test_the_check_runs_once_and_a_fit_reads_at_full_speed(extension: Path) -> None:
    cuda = FakeCuda((9, 0))
    load(cuda, sass=["80", "90"], ptx=["90"])
    assert cuda.asked == 0  # importing the package touched no GPU: the check waits for the first use
    assert use() == 42 and use() == 42
    assert cuda.asked == 1
    assert "forward" in vars(sys.modules[EXT])  # copied in after the pass


@pytest.mark.parametrize(
    ("capability", "sass", "ptx", "runs"),
    [
        ((8, 6), ["80", "90"], ["90"], True),  # RTX 3090: sm_80 SASS runs on 8.6
        ((8, 9), ["80", "90"], ["90"], True),  # RTX 4090 / L4
        ((10, 0), ["80", "90"], ["90"], True),  # B200: compute_90 PTX is JIT-compiled
        ((12, 0), ["80", "90"], ["90"], True),  # RTX 5090
        ((8, 0), ["90"], ["90"], False),  # A100 against an sm_90-only build: PTX of 9.0 cannot JIT for 8.0
        ((8, 9), ["90"], [], False),
        ((7, 5), ["80", "90"], ["90"], False),  # T4: older than every arch held
        ((9, 0), [], ["80"], True),  # PTX only, JIT-compiled for the H200
        ((8, 6), ["86"], [], True),
        ((8, 0), ["86"], [], False),  # SASS of a newer minor does not run on an older one
    ],
)
def test_which_gpus_a_build_runs_on(
    extension: Path, capability: tuple[int, int], sass: list[str], ptx: list[str], runs: bool
) -> None:
    load(FakeCuda(capability, name="GPU"), sass=sass, ptx=ptx)
    if runs:
        assert use() == 42
    else:
        with pytest.raises(RuntimeError, match=f"compute capability {capability[0]}.{capability[1]}"):
            use()


def test_a_machine_without_a_gpu_imports_and_calls_as_before(extension: Path) -> None:
    load(FakeCuda(None), sass=["80"], ptx=[])
    assert use() == 42
