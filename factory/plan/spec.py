"""BuildSpec: the one tuple type every stage takes (the build label it renders lives in the index's contract).

A spec's `id` is stable (`causal-conv1d-1.7.0-cu13.0-torch2.14-cp311-abi1`) and names the tuple in
logs, records, reports and the index. The local version label (`cu.13.0.torch.2.14.abi.1`) puts every
number in its own dotted segment so PEP 440 compares them as integers (torch 2.10 sorts above 2.9).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from index_server.contract import BuildLabel, SpecInfo, tag_of_python


def minor_of(version: Version) -> str:
    """'2.14' for Version('2.14.1')."""
    return f"{version.major}.{version.minor}"


def next_minor(version: Version) -> str:
    return f"{version.major}.{version.minor + 1}"


@dataclass(frozen=True, kw_only=True)
class BuildSpec:
    package: NormalizedName
    version: Version
    cuda: Version  # the toolkit the wheel is built with, e.g. 13.0
    torch: Version  # the exact torch release built against, e.g. 2.14.1
    torch_cuda: Version  # the CUDA of that torch build (its variant on PyTorch's index), e.g. 13.0
    python: str  # "3.11"
    cxx11_abi: bool
    platform: str  # the manylinux tag the wheel must reach, e.g. manylinux_2_28_x86_64
    archs: tuple[str, ...] = field(default=())  # SASS targets, e.g. ("80", "90")
    ptx: str | None = None  # arch whose PTX is embedded so newer GPUs can JIT, e.g. "120"
    exact_torch_pin: bool = False  # pin torch==X+cuNNN (torch minors shipped in both ABIs)
    torch_on_pypi: bool = False  # PyPI's own torch is this exact build (no index URL needed)
    # The variant on PyTorch's index that PyPI's torch (torch/torch_cuda above) stands in for, e.g.
    # "2.14.1+cu132", where a profile builds against PyPI's torch (matrix.toml `torch_from_pypi`).
    torch_stand_in_for: str | None = None
    # The CUDA toolkit `cuda` (an older one of the same major) stands in for, e.g. "12.8" where 12.4 builds a
    # torch 2.8 + CUDA 12.8 tuple because no 12.8 toolkit can be had (matrix.toml `cuda_stand_in`), and the
    # archs of the planned toolkit's list that the stand-in cannot compile.
    cuda_stand_in_for: str | None = None
    archs_dropped: tuple[str, ...] = ()
    # The wheel may get the lowest floor auditwheel grants above `platform` (said in the provenance and on
    # the page with the symbols that raised it) instead of failing repair (matrix.toml `accept_raised_floor`).
    accept_raised_floor: bool = False

    @property
    def torch_minor(self) -> str:
        return minor_of(self.torch)

    @property
    def cuda_major(self) -> int:
        return self.cuda.major

    @property
    def python_tag(self) -> str:
        return tag_of_python(self.python)

    @property
    def abi_flag(self) -> int:
        return int(self.cxx11_abi)

    @property
    def id(self) -> str:
        return (
            f"{self.package}-{self.version}-cu{self.cuda}-torch{self.torch_minor}-{self.python_tag}-abi{self.abi_flag}"
        )

    @property
    def toolchain_key(self) -> str:
        """What device code depends on: the same for every Python of one (CUDA, torch, ABI)."""
        return f"cu{self.cuda}-torch{self.torch}+cu{self.torch_cuda_tag}-abi{self.abi_flag}"

    @property
    def torch_cuda_tag(self) -> str:
        """'130' for torch's CUDA 13.0 build, as in `2.14.1+cu130`."""
        return f"{self.torch_cuda.major}{self.torch_cuda.minor}"

    @property
    def torch_requirement(self) -> str:
        """The exact torch to install for building and verifying."""
        if self.torch_on_pypi:
            return f"torch=={self.torch}"
        return f"torch=={self.torch}+cu{self.torch_cuda_tag}"

    @property
    def local_version(self) -> str:
        return BuildLabel(cuda=self.cuda, torch_minor=self.torch_minor, cxx11_abi=self.cxx11_abi).render()

    @property
    def wheel_version(self) -> Version:
        return Version(f"{self.version.public}+{self.local_version}")

    @property
    def torch_pin(self) -> str:
        """The Requires-Dist a built wheel carries for torch."""
        if self.exact_torch_pin:
            return f"torch=={self.torch.public}+cu{self.torch_cuda_tag}"
        return f"torch>={self.torch_minor},<{next_minor(self.torch)}"

    @property
    def channel(self) -> str:
        return f"cu{self.cuda_major}"

    def to_json(self) -> SpecInfo:
        info: SpecInfo = {
            "id": self.id,
            "package": str(self.package),
            "version": str(self.version),
            "cuda": str(self.cuda),
            "cuda_major": self.cuda_major,
            "torch": self.torch_minor,
            "torch_version": str(self.torch),
            "torch_cuda": str(self.torch_cuda),
            "python": self.python,
            "cxx11_abi": self.cxx11_abi,
            "platform": self.platform,
            "archs": list(self.archs),
            "ptx": self.ptx,
            "exact_torch_pin": self.exact_torch_pin,
            "torch_on_pypi": self.torch_on_pypi,
            "local_version": self.local_version,
            "torch_pin": self.torch_pin,
            "channel": self.channel,
        }
        # only when set: every other tuple keeps its input key
        if self.torch_stand_in_for is not None:
            info["torch_stand_in_for"] = self.torch_stand_in_for
        if self.cuda_stand_in_for is not None:
            info["cuda_stand_in_for"] = self.cuda_stand_in_for
            info["archs_dropped"] = list(self.archs_dropped)
        if self.accept_raised_floor:
            info["accept_raised_floor"] = True
        return info

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BuildSpec:
        return cls(
            package=canonicalize_name(data["package"]),
            version=Version(data["version"]),
            cuda=Version(data["cuda"]),
            torch=Version(data["torch_version"]),
            torch_cuda=Version(data["torch_cuda"]),
            python=data["python"],
            cxx11_abi=bool(data["cxx11_abi"]),
            platform=data["platform"],
            archs=tuple(data.get("archs", ())),
            ptx=data.get("ptx"),
            exact_torch_pin=bool(data.get("exact_torch_pin", False)),
            torch_on_pypi=bool(data.get("torch_on_pypi", False)),
            torch_stand_in_for=data.get("torch_stand_in_for"),
            cuda_stand_in_for=data.get("cuda_stand_in_for"),
            archs_dropped=tuple(data.get("archs_dropped", ())),
            accept_raised_floor=bool(data.get("accept_raised_floor", False)),
        )
