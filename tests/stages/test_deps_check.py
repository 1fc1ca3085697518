"""The dependency check before compiling, the refusal of a wheel without its extension, and the fatbin
reader's refusals: each on files made here."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from packaging.version import Version
from scripted_runner import ScriptedRunner
from spec_builders import make_spec

from factory.context import BuildContext
from factory.plan.job import resolve
from factory.plan.recipes import load_recipes
from factory.stages.deps_check import check_dependencies, declared_requirements, unconditional
from factory.stages.gpu_archs import NotAFatbin, parse_fatbin
from factory.stages.provision import Toolchain
from factory.stages.records import StageFailed
from factory.stages.toolkit import Toolkit
from factory.stages.verify import missing_extensions

UV_CONFLICT = """  × No solution found when resolving dependencies:
  ╰─▶ Because mamba-ssm depends on triton>=3.5.0 and torch==2.5.1 depends on triton==3.1.0, we can conclude
      that your requirements are unsatisfiable.
"""


def test_declared_requirements_come_from_static_metadata_only(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["triton>=3.5.0", "einops"]\n')
    assert declared_requirements(tmp_path) == ["triton>=3.5.0", "einops"]
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndynamic = ["dependencies"]\n')
    assert declared_requirements(tmp_path) is None  # setup.py computes them: not checked before building
    (tmp_path / "PKG-INFO").write_text(
        "Metadata-Version: 2.2\nName: x\nRequires-Dist: ninja\nRequires-Dist: a; extra == 'dev'\n"
    )
    assert declared_requirements(tmp_path) == ["ninja", "a; extra == 'dev'"]
    assert unconditional(["ninja", "a; extra == 'dev'", "b; python_version >= '3.9'", "not a requirement!"]) == [
        "ninja",
        'b; python_version >= "3.9"',
    ]
    (tmp_path / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: x\nRequires-Dist: ninja\n")
    assert declared_requirements(tmp_path) is None  # before 2.2 any field may be computed by setup.py


class FakeUv(ScriptedRunner):
    def __init__(self, returncode: int, output: str) -> None:
        super().__init__()
        self.returncode, self.output = returncode, output

    def answer(self, argv: list[str], env: dict[str, str], cwd: Path | None) -> tuple[int, str]:
        return self.returncode, self.output


def _toolchain(tmp_path: Path) -> Toolchain:
    return Toolchain(
        interpreter=Path("/py"), env=tmp_path, python=tmp_path / "bin/python",
        toolkit=Toolkit(home=tmp_path, nvcc="12.4.131", origin="debian"), host_compiler_dir=None,
        host_compiler="g++ 12", torch_version="2.5.1", torch_cuda="12.4", cxx11_abi=False, torch_include=tmp_path,
    )  # fmt: skip


def test_a_conflict_fails_the_build_stage_before_any_compile(tmp_path: Path) -> None:
    tree = tmp_path / "src"
    tree.mkdir()
    (tree / "pyproject.toml").write_text('[project]\nname = "mamba-ssm"\ndependencies = ["triton>=3.5.0"]\n')
    spec = make_spec(torch=Version("2.5.1"), torch_cuda=Version("12.4"), cuda=Version("12.4"), cxx11_abi=False)
    job = resolve(spec, load_recipes())
    ctx = BuildContext(cache=tmp_path, uv=Path("/uv"), recipes=load_recipes(), base_env={})
    uv = FakeUv(1, UV_CONFLICT)
    with pytest.raises(StageFailed) as err:
        check_dependencies(job, ctx, _toolchain(tmp_path), tree, tmp_path / "check", uv, tmp_path / "log")
    assert err.value.stage == "build" and err.value.cause == "dependency-conflict"
    assert "triton>=3.5.0 and torch==2.5.1 depends on triton==3.1.0" in err.value.message
    assert err.value.message.endswith("(nothing was compiled)")
    assert (tmp_path / "check" / "requirements.in").read_text() == f"{job.spec.torch_requirement}\ntriton>=3.5.0\n"
    assert "compile" in uv.calls[0][0]
    assert check_dependencies(job, ctx, _toolchain(tmp_path), tree, tmp_path / "c2", FakeUv(0, ""), tmp_path / "log")


def test_a_wheel_without_its_extension_is_named(tmp_path: Path) -> None:
    wheel = tmp_path / "mamba_ssm-2.4.0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("mamba_ssm/__init__.py", "")
        zf.writestr("other_ext.cpython-311-x86_64-linux-gnu.so", b"\x7fELF")
    assert missing_extensions(wheel, ("selective_scan_cuda",)) == ["selective_scan_cuda"]
    with zipfile.ZipFile(wheel, "a") as zf:
        zf.writestr("selective_scan_cuda.cpython-311-x86_64-linux-gnu.so", b"\x7fELF")
    assert missing_extensions(wheel, ("selective_scan_cuda",)) == []


def test_the_mamba_recipe_keeps_its_cuda_build() -> None:
    job = resolve(make_spec(), load_recipes())
    assert job.switches["MAMBA_KEEP_CUDA_BUILD"] == "TRUE" and job.switches["MAMBA_FORCE_BUILD"] == "TRUE"


def test_the_fatbin_reader_refuses_what_is_not_one() -> None:
    with pytest.raises(NotAFatbin):
        parse_fatbin(b"\x01\x02\x03\x04" * 8)
    assert parse_fatbin(b"\x00" * 32) == {"sass": set(), "ptx": set()}  # padding only
