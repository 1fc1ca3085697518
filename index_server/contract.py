"""What the index serves and the factory produces: the build label, `factory_build.json`, outcomes.

The index owns this contract; the factory imports it (never the other way round), and nothing here
imports a web framework. A wheel's local version label (`cu.13.0.torch.2.14.abi.1`) puts every number in
its own dotted segment so PEP 440 compares them as integers (torch 2.10 sorts above 2.9).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

from packaging.version import Version

BUILD_INFO_NAME = "factory_build.json"  # in the wheel's *.dist-info/


class Outcome(StrEnum):
    """How a stage, a tuple's build or a tuple in a run ended."""

    OK = "ok"  # one stage completed
    BUILT = "built"  # a tuple went through every stage
    PUBLISHED = "published"  # a run built it and the index took it
    UNCHANGED = "unchanged"  # a run found its inputs already published
    FAILED = "failed"
    SKIPPED = "skipped"  # the machine cannot build it (no toolkit, no interpreter, ...)


# The outcomes a run report records per tuple (what the index's build matrix shows).
RUN_OUTCOMES = (Outcome.PUBLISHED, Outcome.UNCHANGED, Outcome.FAILED, Outcome.SKIPPED)


class Cause(StrEnum):
    """Why a tuple did not become a published wheel: shown in the run report and the web matrix."""

    INTERPRETER_MISSING = "interpreter-missing"
    ENV_FAILED = "env-failed"
    TORCH_UNAVAILABLE = "torch-unavailable"
    TORCH_BROKEN = "torch-broken"
    TORCH_MISMATCH = "torch-mismatch"
    TOOLKIT_MISSING = "toolkit-missing"
    TOOLKIT_BROKEN = "toolkit-broken"
    FETCH_FAILED = "fetch-failed"
    NO_SDIST = "no-sdist"
    SDIST_DIGEST_MISMATCH = "sdist-digest-mismatch"
    BAD_SDIST = "bad-sdist"
    PATCH_FAILED = "patch-failed"
    COMPILER_ERROR = "compiler-error"
    LINK_ERROR = "link-error"
    BUILD_DEPENDENCY_MISSING = "build-dependency-missing"
    BUILD_FAILED = "build-failed"
    NO_WHEEL = "no-wheel"
    REPAIR_REFUSED_FLOOR = "repair-refused-floor"
    REPAIR_EXTERNAL_LIBS = "repair-external-libs"
    REPAIR_FAILED = "repair-failed"
    INSTALL_FAILED = "install-failed"
    IMPORT_FAILED = "import-failed"
    DEPENDENCY_CONFLICT = "dependency-conflict"
    NUMERICS_FAILED = "numerics-failed"
    PUBLISH_REJECTED = "publish-rejected"
    TIMEOUT = "timeout"  # a command ran past its stage's time limit; its process group was killed
    INTERNAL_ERROR = "internal-error"


def python_of_tag(tag: str) -> str | None:
    """'3.11' for the interpreter tag 'cp311'; None for anything that is not a CPython tag."""
    if tag.startswith("cp") and tag[2:].isdigit() and len(tag) >= 4:
        return f"{tag[2]}.{tag[3:]}"
    return None


def tag_of_python(python: str) -> str:
    """'cp311' for '3.11'."""
    return "cp" + python.replace(".", "")


_LABEL = re.compile(r"^cu\.(\d+)\.(\d+)\.torch\.(\d+)\.(\d+)\.abi\.([01])$")


@dataclass(frozen=True, kw_only=True)
class BuildLabel:
    """What a wheel's local version label says about its build; rendered by the factory, parsed by the index."""

    cuda: Version
    torch_minor: str
    cxx11_abi: bool

    @property
    def cuda_major(self) -> int:
        return self.cuda.major

    def render(self) -> str:
        return f"cu.{self.cuda.major}.{self.cuda.minor}.torch.{self.torch_minor}.abi.{int(self.cxx11_abi)}"

    @classmethod
    def parse(cls, version: str | Version) -> BuildLabel | None:
        """The label of `2.3.2.post1+cu.13.0.torch.2.14.abi.1`, or None for a version without one."""
        local = Version(str(version)).local
        if local is None:
            return None
        m = _LABEL.match(local)
        if m is None:
            return None
        return cls(
            cuda=Version(f"{m[1]}.{m[2]}"),
            torch_minor=f"{m[3]}.{m[4]}",
            cxx11_abi=m[5] == "1",
        )


class SpecInfo(TypedDict):
    """`BuildSpec.to_json()`: the tuple a wheel was built for (the keys the index reads are typed)."""

    id: str
    package: str
    version: str
    cuda: str
    cuda_major: int
    torch: str  # the torch minor, "2.14"
    torch_version: str
    torch_cuda: str
    python: str  # "3.11"
    cxx11_abi: bool
    platform: str
    archs: list[str]
    ptx: str | None
    exact_torch_pin: bool
    torch_on_pypi: bool
    local_version: str
    torch_pin: str
    channel: str
    torch_stand_in_for: NotRequired[str]  # "2.14.1+cu132": built against PyPI's torch in its place
    cuda_stand_in_for: NotRequired[str]  # "12.8": the toolkit `cuda` (12.4) built in that one's place
    archs_dropped: NotRequired[list[str]]  # archs of the planned toolkit's list the stand-in cannot compile
    accept_raised_floor: NotRequired[bool]  # the wheel may carry a floor above `platform` (said, with why)


class BuildInfo(TypedDict, total=False):
    """`*.dist-info/factory_build.json`: the provenance a factory wheel carries.

    `spec` and `input_key` are what the index reads (the build matrix and `factory run`'s skip test);
    the rest records how the wheel was made.
    """

    spec: SpecInfo
    input_key: str | None  # None only in wheels of factory versions before wheel_format 2
    inputs: dict[str, Any]  # what the input key hashes (the declared inputs)
    sdist: dict[str, Any]
    recipe: dict[str, Any]
    patches: list[dict[str, Any]]
    toolkit: dict[str, Any]
    compiler: str
    torch: dict[str, Any]
    flags: dict[str, str]
    raw_wheel_sha256: str
    built_by: str
    dependency_changes: list[str]
    auditwheel: dict[str, Any]
    gpu_archs: dict[str, Any]  # read from the binary: {"sass": ["80", "90"], "ptx": ["90"], "objects": {...}}
    floor: dict[str, Any]  # only where the floor was raised: wanted, granted, raised_by, why
    factory_version: str  # wheels before wheel_format 2 only
    wheel_format: int  # factory WHEEL_FORMAT_VERSION; no wall-clock time (the catalog has upload times)
