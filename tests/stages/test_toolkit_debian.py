"""CUDA 11.8/12.4 assembled from Debian's archive: the private apt configuration, the CUDA_HOME laid out
from the unpacked .debs and the PyPI wheels, and what happens when a step cannot be had. Commands are
answered by a fake runner that leaves the files the real ones would; tests/stages/test_toolkit_debian_real.py
fetches the real toolkit."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from packaging.version import Version
from scripted_runner import ScriptedRunner

from factory.context import BuildContext
from factory.plan.recipes import load_recipes
from factory.plan.toolkits import load_toolkits
from factory.stages.host_compiler import host_compiler
from factory.stages.records import StageFailed
from factory.stages.toolkit import Toolkit, cuda_toolkit
from factory.stages.toolkit_debian import NVCC_PROFILE, apt_files

ELF = b"\x7fELF fake nvcc"


class FakeApt(ScriptedRunner):
    """apt-get, dpkg, uv and nvcc as far as the assembly needs them; `fail` names a step that fails."""

    def __init__(self, fail: str | None = None, nvcc: str = "12.4.131", gcc: str = "12.2.0") -> None:
        super().__init__()
        self.fail, self.nvcc, self.gcc = fail, nvcc, gcc

    def answer(self, argv: list[str], env: dict[str, str], cwd: Path | None) -> tuple[int, str]:
        a, step = argv, self.step(argv)
        if step == self.fail:
            return 100, f"E: {step} failed: Unable to locate package\n"
        if step == "download":
            for entry in a[3:]:
                name, _, version = entry.partition("=")
                assert cwd is not None
                (cwd / f"{name}_{version}_amd64.deb").write_bytes(b"!<arch>")
        elif step == "dpkg":
            self.unpack(Path(a[3]))
        elif step == "wheels":
            self.wheels(Path(a[a.index("--target") + 1]))
        elif step == "nvcc":
            return 0, f"Cuda compilation tools, release 12.4, V{self.nvcc}\n"
        elif step == "c++":
            return 0, f"c++ (Debian {self.gcc}-14) {self.gcc}\n"
        return 0, "ok\n"

    @staticmethod
    def step(a: list[str]) -> str:
        if a[0].endswith("apt-get"):
            return a[1]
        if a[0].endswith("dpkg"):
            return "dpkg"
        if a[0].endswith("uv"):
            return "wheels"
        if a[0].endswith("nvcc"):
            return "nvcc"
        return Path(a[0]).name

    @staticmethod
    def unpack(root: Path) -> None:
        for rel, data in {
            "usr/bin/nvcc": b"#!/bin/sh\nexec /usr/lib/nvidia-cuda-toolkit/bin/nvcc\n",
            "usr/bin/ptxas": b"\x7fELF ptxas",
            "usr/bin/fatbinary": b"\x7fELF fatbinary",
            "usr/bin/cuobjdump": b"\x7fELF cuobjdump",
            "usr/lib/nvidia-cuda-toolkit/bin/nvcc": ELF,
            "usr/lib/nvidia-cuda-toolkit/bin/cicc": b"\x7fELF cicc",
            "usr/lib/nvidia-cuda-toolkit/bin/crt/link.stub": b"stub",
            "usr/lib/nvidia-cuda-toolkit/libdevice/libdevice.10.bc": b"BC",
        }.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        (root / "usr/lib/nvidia-cuda-toolkit/bin/nvcc.profile").symlink_to("/etc/nvcc.profile")
        (root / "usr/bin/compute-sanitizer").symlink_to("../lib/nvidia-cuda-toolkit/compute-sanitizer/x")

    @staticmethod
    def wheels(target: Path) -> None:
        for rel in (
            "nvidia/cuda_runtime/include/cuda_runtime.h",
            "nvidia/cuda_runtime/lib/libcudart.so.12",
            "nvidia/cuda_nvcc/include/crt/host_config.h",
            "nvidia/cuda_cccl/include/cub/cub.cuh",
        ):
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            (target / rel).write_text(f"// {rel}\n")


def context(tmp_path: Path, **kw: object) -> BuildContext:
    base = BuildContext(
        cache=tmp_path / "cache",
        uv=Path("/fake/uv"),
        recipes=load_recipes(),
        base_env={"PATH": str(tmp_path / "no-compilers")},
        apt_get=Path("/usr/bin/apt-get"),
        dpkg=Path("/usr/bin/dpkg"),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_the_apt_configuration_is_private_and_names_only_the_suite(tmp_path: Path) -> None:
    files = apt_files(tmp_path, "trixie", "http://deb.debian.org/debian", Path("/usr/share/keyrings/k.gpg"))
    sources, conf = files[tmp_path / "sources.list"], files[tmp_path / "apt.conf"]
    assert sources == "deb [signed-by=/usr/share/keyrings/k.gpg] http://deb.debian.org/debian trixie main non-free\n"
    assert f'Dir::State::Lists "{tmp_path}/lists";' in conf and f'Dir::Cache::Archives "{tmp_path}/archives";' in conf
    assert 'Dir::Etc::SourceParts "-";' in conf  # the machine's sources.list.d is not read
    assert "/etc/apt" not in conf


def test_cuda_12_4_is_assembled_once_into_a_cuda_home(tmp_path: Path) -> None:
    runner, ctx = FakeApt(), context(tmp_path)
    toolkit = cuda_toolkit(Version("12.4"), ctx, runner, tmp_path / "log")
    home = toolkit.home
    assert (toolkit.origin, toolkit.nvcc, toolkit.host_gcc_max) == ("debian", "12.4.131", 13)
    steps = [FakeApt.step(a) for a, *_ in runner.calls]
    assert steps == ["update", "download", "dpkg", "wheels", "nvcc"]
    download = runner.calls[1]
    assert download[0][3:] == list(load_toolkits().exact("12.4").debs)  # type: ignore[union-attr]
    assert download[1]["APT_CONFIG"].startswith(str(ctx.toolkits))
    assert (home / "bin" / "nvcc").read_bytes() == ELF  # the real binary, not Debian's wrapper script
    assert (home / "bin" / "nvcc.profile").read_text() == NVCC_PROFILE
    assert (home / "bin" / "cicc").exists() and (home / "bin" / "crt" / "link.stub").exists()
    assert not (home / "bin" / "compute-sanitizer").exists()
    assert (home / "nvvm" / "libdevice" / "libdevice.10.bc").read_bytes() == b"BC"
    for header in ("cuda_runtime.h", "crt/host_config.h", "cub/cub.cuh"):
        assert (home / "include" / header).is_file(), header
    assert (home / "lib64" / "libcudart.so").resolve().name == "libcudart.so.12"
    again = FakeApt()
    assert cuda_toolkit(Version("12.1"), ctx, again, tmp_path / "log").home == home  # 12.4 builds 12.1 tuples
    assert [FakeApt.step(a) for a, *_ in again.calls] == ["nvcc"]


@pytest.mark.parametrize("step", ["update", "download", "wheels"])
def test_a_step_that_cannot_be_had_skips_the_tuple_with_its_reason(tmp_path: Path, step: str) -> None:
    with pytest.raises(StageFailed) as err:
        cuda_toolkit(Version("12.4"), context(tmp_path), FakeApt(fail=step), tmp_path / "log")
    assert err.value.cause == "toolkit-missing" and err.value.skipped
    assert "12.4" in err.value.message
    ok = cuda_toolkit(Version("12.4"), context(tmp_path), FakeApt(), tmp_path / "log")  # then it can resume
    assert (ok.home / "bin" / "nvcc").exists()


def test_a_machine_without_apt_is_told_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(StageFailed, match="no apt-get/dpkg; pass --cuda-home") as err:
        cuda_toolkit(Version("11.8"), context(tmp_path, apt_get=None), FakeApt(), tmp_path / "log")
    assert err.value.skipped


def test_a_toolkit_no_source_has_is_skipped_with_the_ways_out(tmp_path: Path) -> None:
    with pytest.raises(StageFailed, match=r"no CUDA 12\.x toolkit >= 12\.8.*cuda_stand_in") as err:
        cuda_toolkit(Version("12.8"), context(tmp_path), FakeApt(), tmp_path / "log")
    assert err.value.cause == "toolkit-missing"


def test_an_nvcc_that_is_not_the_one_listed_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StageFailed, match=r"nvcc reports 12\.4\.99, data/toolkits\.toml says 12\.4\.131"):
        cuda_toolkit(Version("12.4"), context(tmp_path), FakeApt(nvcc="12.4.99"), tmp_path / "log")


def test_cuda_11_8_gets_a_gcc_it_accepts(tmp_path: Path) -> None:
    toolkit = Toolkit(home=tmp_path, nvcc="11.8.89", origin="debian", host_gcc_max=11)
    compilers = tmp_path / "bin"
    compilers.mkdir()
    with pytest.raises(StageFailed, match=r"takes gcc <= 11.*apt-get install g\+\+-11"):
        host_compiler(toolkit, context(tmp_path, base_env={"PATH": str(compilers)}), FakeApt(), tmp_path / "log")
    for name in ("gcc-11", "g++-11"):
        (compilers / name).write_text("#!/bin/sh\n")
        (compilers / name).chmod(0o755)
    ctx = context(tmp_path, base_env={"PATH": str(compilers)})
    chosen = host_compiler(toolkit, ctx, FakeApt(), tmp_path / "log")
    assert chosen.folder is not None and (chosen.folder / "g++").resolve() == (compilers / "g++-11").resolve()
    assert (chosen.folder / "gcc").resolve() == (compilers / "gcc-11").resolve()
    fits = host_compiler(toolkit, ctx, FakeApt(gcc="11.3.0"), tmp_path / "log")
    assert fits.folder is None and "11.3.0" in fits.version
