"""The sentinel against fake target environments: torch present (each C++ ABI), absent, CPU-only, broken.

Each environment is a real venv whose site-packages holds a tiny stand-in `torch` package, so the backend's
probe runs the real interpreter-outside-isolation path. The report is captured (never sent) here; the
loopback path is tests/index/test_wants_e2e.py.
"""

from __future__ import annotations

import ast
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import venv
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from index_server import sentinel_backend as backend
from index_server.sentinel import SentinelBuild, build_sentinel, sentinel_filename

PAGE = "http://h/project/causal-conv1d/"
WANTS = "http://h/wants/causal-conv1d"
HERE = f"{sys.version_info.major}.{sys.version_info.minor}"
BUILDS = (
    SentinelBuild("1.7.0", "2.14", "13.0", True, "3.99", ("/simple/", "/cu13/simple/")),
    SentinelBuild("1.7.0", "2.13", "13.0", True, HERE, ("/simple/", "/cu13/simple/")),
    SentinelBuild("1.7.0", "2.14", "12.6", True, HERE, ("/cu12/simple/",)),
)


def torch_package(*, abi: bool = True, cuda: str | None = "13.0", broken: bool = False) -> dict[str, str]:
    init = "raise ImportError('libcudart.so.13: cannot open shared object file')\n" if broken else (
        "__version__ = '2.14.1+cu130'\nfrom . import version\n"
        f"def compiled_with_cxx11_abi():\n    return {abi}\n"
    )  # fmt: skip
    return {"__init__.py": init, "version.py": f"cuda = {cuda!r}\n"}


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv (no pip) standing in for the environment pip installs into."""
    root = tmp_path_factory.mktemp("target")
    venv.create(root / "venv", with_pip=False, symlinks=True)
    return root / "venv"


def site_packages(env: Path) -> Path:
    return next((env / "lib").glob("python3*/site-packages"))


@pytest.fixture
def with_torch(target: Path) -> Iterator[Any]:
    """Call with the stand-in's options to (re)write `torch` into the target; removed afterwards."""
    folder = site_packages(target) / "torch"

    def put(files: dict[str, str] | None) -> Path:
        shutil.rmtree(folder, ignore_errors=True)  # __pycache__ too: a rewrite may keep mtime and size
        if files is not None:
            folder.mkdir()
            for name, text in files.items():
                (folder / name).write_text(text)
        return target / "bin" / "python"

    yield put
    put(None)


def config(want_url: str | None = WANTS) -> dict[str, Any]:
    return {
        "project": "causal-conv1d",
        "page": PAGE,
        "want_url": want_url,
        "builds": [{**b.__dict__, "channels": list(b.channels)} for b in BUILDS],
    }


def explain(python: Path, environ: dict[str, str] | None = None, want_url: str | None = WANTS) -> tuple[str, list[Any]]:
    sent: list[Any] = []
    text = backend.explain(config(want_url), os.getpid(), environ or {}, str(python), lambda *a: sent.append(a))
    return text, sent


@pytest.mark.parametrize("abi", [True, False])
def test_names_the_missing_tuple_the_nearest_builds_and_reports_it(with_torch: Any, abi: bool) -> None:
    python = with_torch(torch_package(abi=abi))
    text, sent = explain(python)
    words = "C++11 ABI" if abi else "pre-C++11 ABI"
    tag = "cp" + HERE.replace(".", "")
    assert f"Missing build:    causal-conv1d for torch 2.14 + CUDA 13.0 + {words} + {tag}" in text
    assert f"This environment: {python}" in text and "torch 2.14.1+cu130, CUDA 13.0" in text
    near = text.split("Nearest builds this index has:")[1].split("What happens next")[0].strip().splitlines()
    first, second, third = near  # cheapest difference first: another channel, another CPython, another torch
    assert first.endswith("in /cu12/simple/ (another CUDA major (12)" + (")" if abi else ", the other C++ ABI)"))
    assert "for torch 2.14 + CUDA 13.0 + C++11 ABI + cp399, in /simple/ and /cu13/simple/ (" in second
    assert "another CPython (3.99)" in second and "another torch minor (2.13)" in third
    assert "has been told that this build is wanted" in text and "FACTORY_INDEX_NO_REPORT=1" in text
    assert "Nothing was compiled" in text and PAGE in text
    ((url, body, agent),) = sent
    assert url == WANTS
    assert body == {"release": None, "torch": "2.14.1", "cuda": "13.0", "cxx11_abi": abi, "python": HERE}
    ua = json.loads(agent.split(" ", 1)[1])
    assert ua["cpu"] == os.uname().machine and ua["system"]["name"] == "Linux"


def test_the_build_on_another_channel_is_named_as_such(with_torch: Any) -> None:
    text, _ = explain(with_torch(torch_package(cuda="12.6")))
    assert "A build for exactly this tuple is here" in text and "in /cu12/simple/" in text


def test_opt_out_sends_nothing_and_changes_only_the_next_step(with_torch: Any) -> None:
    python = with_torch(torch_package())
    told, sent = explain(python)
    quiet, none = explain(python, {"FACTORY_INDEX_NO_REPORT": "1"})
    assert len(sent) == 1 and none == []
    assert "nothing was sent to this index (FACTORY_INDEX_NO_REPORT is set)" in quiet
    differ = [(a, b) for a, b in zip(told.splitlines(), quiet.splitlines(), strict=True) if a != b]
    assert len(differ) == 1 and differ[0][0].startswith("What happens next")


def test_without_torch_it_says_install_torch_first_and_reports_nothing(with_torch: Any) -> None:
    text, sent = explain(with_torch(None))
    assert f"(CPython {HERE}), has no torch" in text and "Install torch first" in text
    assert "causal-conv1d 1.7.0 for torch 2.13 + CUDA 13.0" in text  # what the index has
    assert sent == [] and "Traceback" not in text


def test_cpu_torch_and_broken_torch_say_so_without_a_traceback(with_torch: Any) -> None:
    text, sent = explain(with_torch(torch_package(cuda=None)))
    assert "is a CPU-only build" in text and sent == []
    text, sent = explain(with_torch(torch_package(broken=True)))
    assert "cannot be imported (ImportError: libcudart.so.13" in text and sent == []
    assert "Traceback" not in text


def test_a_static_copy_reports_nothing(with_torch: Any) -> None:
    text, sent = explain(with_torch(torch_package()), want_url=None)
    assert sent == [] and "cannot record wants (a static export)" in text


def _unpack(data: bytes, where: Path) -> Path:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(where, filter="data")
    return where / "causal_conv1d-0.0.0"


def test_the_sdist_hook_fails_in_the_target_interpreter_with_the_message(with_torch: Any, tmp_path: Path) -> None:
    """As pip runs it: the target's interpreter imports the backend from the unpacked sdist and calls a hook."""
    python = with_torch(torch_package())
    folder = _unpack(build_sentinel("causal-conv1d", PAGE, None, BUILDS), tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == [
        "PKG-INFO", "factory_sentinel.json", "factory_sentinel_backend.py", "pyproject.toml"
    ]  # fmt: skip
    hook = "import factory_sentinel_backend as b; b.get_requires_for_build_wheel({})"
    done = subprocess.run(
        [str(python), "-c", hook], cwd=folder, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(folder)},
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "Missing build:    causal-conv1d for torch 2.14 + CUDA 13.0 + C++11 ABI" in done.stderr
    assert "cannot record wants" in done.stderr


def test_the_sentinel_changes_with_the_builds_it_names() -> None:
    assert build_sentinel("causal-conv1d", PAGE, WANTS, BUILDS) == build_sentinel("causal-conv1d", PAGE, WANTS, BUILDS)
    assert build_sentinel("causal-conv1d", PAGE, WANTS, BUILDS) != build_sentinel(
        "causal-conv1d", PAGE, WANTS, BUILDS[:1]
    )
    assert sentinel_filename("causal-conv1d") == "causal_conv1d-0.0.0.tar.gz"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/v/bin/python", "/v/bin/pip", "install", "causal-conv1d==1.6.1", "--index-url", "x"], "==1.6.1"),
        (["/v/bin/python", "-m", "pip", "install", "Causal_Conv1d >= 1.5, <1.7"], ">=1.5,<1.7"),
        (["uv", "pip", "install", "causal-conv1d[dev]~=1.7.0; python_version>'3'"], "~=1.7.0"),
        (["/v/bin/pip", "install", "causal-conv1d", "mamba-ssm==2.3.0"], ""),
        (["/v/bin/pip", "install", "causal-conv1d-extra==1.0"], ""),
        (["/v/bin/pip", "install", "-r", "requirements.txt"], ""),
    ],
)
def test_the_release_asked_for_is_read_from_the_installer_command_line(argv: list[str], expected: str) -> None:
    assert backend.requested_release(argv, "causal-conv1d") == expected


def test_uv_targets_follow_uvs_own_order(tmp_path: Path) -> None:
    envs = {}
    for name in ("chosen", "active", "conda", "project/.venv"):
        (tmp_path / name / "bin").mkdir(parents=True)
        (tmp_path / name / "bin" / "python").write_text("")
        envs[name] = str(tmp_path / name / "bin" / "python")
    argv = ["uv", "pip", "install", "x"]
    assert backend.uv_target([*argv, "--python", str(tmp_path / "chosen")], {}, None) == envs["chosen"]
    assert backend.uv_target([*argv, f"--python={envs['chosen']}"], {}, None) == envs["chosen"]
    assert backend.uv_target([*argv, "-p", "3.12"], {}, None) is None  # a version request: uv's to resolve
    environ = {"VIRTUAL_ENV": str(tmp_path / "active"), "CONDA_PREFIX": str(tmp_path / "conda")}
    assert backend.uv_target(argv, environ, None) == envs["active"]
    assert backend.uv_target(argv, {"CONDA_PREFIX": str(tmp_path / "conda")}, None) == envs["conda"]
    assert backend.uv_target(argv, {}, str(tmp_path / "project" / "src")) == envs["project/.venv"]
    assert backend.installer_of(["/root/.cargo/bin/uv", "pip", "install"]) == "uv"
    assert backend.installer_of(["/v/bin/python", "/v/bin/pip", "install"]) == "pip"


def test_the_backend_is_standard_library_python_38() -> None:
    module: ModuleType = backend
    source = Path(str(module.__file__)).read_text()
    tree = ast.parse(source, feature_version=(3, 8))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported - {"__future__"} <= sys.stdlib_module_names, imported - sys.stdlib_module_names
