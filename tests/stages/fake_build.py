"""A scripted world for `build_tuple`: a fake runner that answers commands by their shape, a fake PyPI.

No process is started and nothing leaves the machine: the runner recognises each command the stages
run (uv, nvcc, the torch probe, the PEP 517 build, auditwheel, the verify imports) by its argv, answers
with a scripted exit code and output, and writes the files the real command would leave (the raw
wheel, auditwheel's repaired wheel). PyPI's JSON API and the sdist download go through an
`httpx.MockTransport`.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from packaging.utils import canonicalize_name
from spec_builders import make_spec
from wheel.wheelfile import WheelFile

from factory.context import BuildContext
from factory.plan.job import Job, RenderedPatch
from factory.plan.spec import BuildSpec
from factory.process import Completed, ProcessTimeout

PYPI = "https://pypi.test/pypi"
SDIST_URL = "https://files.test/packages/mamba_ssm-2.3.2.post1.tar.gz"
SHOW_OK = {"sym_tag": "manylinux_2_28_x86_64", "external_libs": {}}


def _python_c(a: tuple[str, ...], needle: str) -> bool:
    return len(a) == 3 and a[1] == "-c" and needle in a[2]


def _pip_install(a: tuple[str, ...]) -> bool:
    return a[1:3] == ("pip", "install")


def _in_verify_env(a: tuple[str, ...]) -> bool:
    return any("verify-env" in x for x in a)


# (shape, test) in the order they are tried: each command the stages run matches exactly one shape.
SHAPES: tuple[tuple[str, Callable[[tuple[str, ...]], bool]], ...] = (
    ("toolkit-install", lambda a: _pip_install(a) and "--target" in a),
    ("nvcc-version", lambda a: a[0].endswith("/nvcc") and a[1:] == ("--version",)),
    ("venv", lambda a: a[1:2] == ("venv",) and not _in_verify_env(a)),
    ("verify-venv", lambda a: a[1:2] == ("venv",) and _in_verify_env(a)),
    ("install-wheel", lambda a: _pip_install(a) and "--no-deps" in a),
    ("install-deps", lambda a: _pip_install(a) and "--constraint" in a),
    ("torch-install", lambda a: _pip_install(a) and "torch==2.14.1" in a and not _in_verify_env(a)),
    ("verify-torch-install", lambda a: _pip_install(a) and "torch==2.14.1" in a and _in_verify_env(a)),
    ("probe", lambda a: _python_c(a, "_GLIBCXX_USE_CXX11_ABI")),
    ("compiler-version", lambda a: a == ("c++", "--version")),
    ("shim", lambda a: a[0] == "gcc"),
    ("floor-shim", lambda a: a[0].endswith("g++") and "-c" in a),
    ("deps-check", lambda a: a[1:3] == ("pip", "compile")),
    ("pep517", lambda a: a[1:3] == ("-m", "build")),
    ("auditwheel-repair", lambda a: a[0].endswith("auditwheel") and a[1] == "repair"),
    ("auditwheel-show", lambda a: a[0].endswith("auditwheel") and a[1] == "show"),
    ("import-extension", lambda a: _python_c(a, "import selective_scan_cuda")),
    ("import-package", lambda a: _python_c(a, "import mamba_ssm")),
    ("numerics", lambda a: len(a) == 3 and a[1].endswith("gpu_numerics.py")),
)


@dataclass(frozen=True, kw_only=True)
class Reply:
    code: int = 0
    output: str = ""
    times_out: bool = False  # raise what SubprocessRunner raises past the limit
    raises: Exception | None = None  # a bug in the runner or below it


def fail(output: str, code: int = 1) -> Reply:
    return Reply(code=code, output=output)


def raw_wheel(folder: Path, requires: Sequence[str], tag: str = "cp311") -> Path:
    """The wheel a PEP 517 build of mamba-ssm would leave (before auditwheel), with a valid RECORD."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"mamba_ssm-2.3.2.post1-{tag}-{tag}-linux_x86_64.whl"
    info = "mamba_ssm-2.3.2.post1.dist-info"
    meta = "Metadata-Version: 2.1\nName: mamba_ssm\nVersion: 2.3.2.post1\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires) + "\nA package.\n"
    with WheelFile(path, "w") as whl:
        whl.writestr("mamba_ssm/__init__.py", b"__version__ = '2.3.2.post1'\n")
        whl.writestr(f"selective_scan_cuda.cpython-{tag[2:]}-x86_64-linux-gnu.so", b"\x7fELF not really")
        whl.writestr(f"{info}/METADATA", meta.encode())
        wheel_file = f"Wheel-Version: 1.0\nGenerator: fake\nRoot-Is-Purelib: false\nTag: {tag}-{tag}-linux_x86_64\n"
        whl.writestr(f"{info}/WHEEL", wheel_file.encode())
    return path


class FakeRunner:
    """Answers each command by its shape: `replies` override the happy path's answer of a shape."""

    def __init__(self, world: World, replies: Mapping[str, Reply]) -> None:
        self.world, self.replies = world, dict(replies)
        self.calls: list[tuple[str, float | None]] = []  # (shape, time limit) of every command run
        self.unmatched: list[tuple[str, ...]] = []

    def __call__(
        self,
        argv: Sequence[object],
        *,
        env: Mapping[str, str],
        cwd: Path | None,
        log: Path,
        timeout: float | None = None,
    ) -> Completed:
        a = tuple(str(x) for x in argv)
        shape = next((name for name, test in SHAPES if test(a)), None)
        if shape is None:
            self.unmatched.append(a)
            return Completed(a, 99, 0.0, f"fake runner: no shape matches {a}")
        self.calls.append((shape, timeout))
        reply = self.replies.get(shape) or self.world.happy(shape, a)
        if reply.times_out:
            raise ProcessTimeout(a, timeout or 0.0, log)
        if reply.raises is not None:
            raise reply.raises
        if reply.code == 0:
            self.world.effect(shape, a)
        with log.open("a") as out:
            out.write(f"$ {' '.join(a)}\n{reply.output}\n")
        return Completed(a, reply.code, 0.0, reply.output)


@dataclass(kw_only=True)
class World:
    """The machine and PyPI one scenario sees; every field has the happy path's value."""

    root: Path
    spec: BuildSpec = field(default_factory=make_spec)
    requires: tuple[str, ...] = ("einops", "transformers")  # the built wheel's Requires-Dist
    torch_cuda: str = "13.0"  # what the torch probe reports
    show: dict[str, object] = field(default_factory=lambda: dict(SHOW_OK))
    sdist_tops: tuple[str, ...] = ("mamba_ssm-2.3.2.post1",)
    published_sha256: str | None = None  # None: the sdist's real digest
    api_status: int = 200
    releases: tuple[str, ...] = ("2.3.2.post1",)
    wheel_left: bool = True  # the PEP 517 build leaves its wheel
    patches: tuple[RenderedPatch, ...] = ()
    python_found: bool = True
    gpu_check: bool = False

    def sdist_bytes(self) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for top in self.sdist_tops:
                data = b"from setuptools import setup\nsetup(name='mamba_ssm')\n"
                item = tarfile.TarInfo(f"{top}/setup.py")
                item.size = len(data)
                tar.addfile(item, io.BytesIO(data))
        return buf.getvalue()

    def transport(self) -> httpx.MockTransport:
        sdist = self.sdist_bytes()
        digest = self.published_sha256 or hashlib.sha256(sdist).hexdigest()
        name = SDIST_URL.rsplit("/", 1)[1]
        files = [{"packagetype": "sdist", "filename": name, "url": SDIST_URL, "digests": {"sha256": digest}}]

        def answer(request: httpx.Request) -> httpx.Response:
            if str(request.url) == f"{PYPI}/mamba-ssm/json":
                if self.api_status != 200:
                    return httpx.Response(self.api_status, text="upstream trouble")
                return httpx.Response(200, json={"releases": {v: files for v in self.releases}})
            if str(request.url) == SDIST_URL:
                return httpx.Response(200, content=sdist)
            return httpx.Response(404)

        return httpx.MockTransport(answer)

    def client(self) -> httpx.Client:
        """A client over the fake PyPI, not yet opened: build_tuple opens and closes it."""
        return httpx.Client(transport=self.transport())

    def context(self) -> BuildContext:
        pythons = self.root / "pythons"
        if self.python_found:
            interpreter = pythons / f"{self.spec.python}.9" / "bin" / f"python{self.spec.python}"
            interpreter.parent.mkdir(parents=True, exist_ok=True)
            interpreter.touch()
        empty = self.root / "empty-bin"
        empty.mkdir(exist_ok=True)
        return BuildContext(
            cache=self.root / "cache",
            uv=Path("/fake/bin/uv"),
            recipes={},
            base_env={"PATH": str(empty), "HOME": str(self.root)},
            pypi_json=PYPI,
            python_dirs=(pythons,),
            ccache=None,
            auditwheel=Path("/fake/bin/auditwheel"),
            gpu_check=self.gpu_check,
        )

    def job(self) -> Job:
        return Job(
            spec=self.spec,
            package=canonicalize_name("mamba-ssm"),
            patches=self.patches,
            patches_digest="digest-" + str(len(self.patches)),
            switches={"MAMBA_FORCE_BUILD": "TRUE"},
            gencode=("-gencode", "arch=compute_90,code=sm_90"),
            arch_list="9.0",
            host_flags="-g1",
            import_modules=("selective_scan_cuda",),
            top_level="mamba_ssm",
        )

    def happy(self, shape: str, a: tuple[str, ...]) -> Reply:
        if shape == "nvcc-version":
            return Reply(output="Cuda compilation tools, release 13.0, V13.0.88")
        if shape == "probe":
            include = self.root / "torch-include"
            include.mkdir(exist_ok=True)
            (include / "torch.h").write_text("// torch\n")
            facts = {"torch": "2.14.1", "cuda": self.torch_cuda, "abi": True, "include": str(include)}
            return Reply(output=json.dumps(facts))
        if shape == "compiler-version":
            return Reply(output="c++ (Debian 12.2.0-14) 12.2.0")
        if shape == "auditwheel-show":
            return Reply(output=json.dumps(self.show))
        return Reply(output=f"{shape}: done")

    def effect(self, shape: str, a: tuple[str, ...]) -> None:
        """The files a successful command leaves behind."""
        if shape == "toolkit-install":
            (Path(a[a.index("--target") + 1]) / "nvidia" / "cu13" / "lib").mkdir(parents=True, exist_ok=True)
        elif shape in ("venv", "verify-venv"):
            (Path(a[-1]) / "bin").mkdir(parents=True, exist_ok=True)
        elif shape == "pep517" and self.wheel_left:
            raw_wheel(Path(a[a.index("--outdir") + 1]), self.requires, self.spec.python_tag)
        elif shape == "auditwheel-repair":
            raw, work = Path(a[-1]), Path(a[a.index("-w") + 1])
            shutil.copy(raw, work / raw.name.replace("linux_x86_64", "manylinux_2_28_x86_64"))
