"""BuildContext: the settings every build stage reads, made once by the CLI (no stage reads os.environ)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import NormalizedName

from factory.plan.recipes import Recipe

# The stages that run commands, and how long one of their commands may run by default (seconds).
DEFAULT_TIMEOUTS = {"provision": 30 * 60, "build": 3 * 60 * 60, "repair": 30 * 60, "verify": 30 * 60}


@dataclass(frozen=True, kw_only=True)
class StageTimeouts:
    """The time limit of one command of each stage; past it the command's process group is killed."""

    provision: float = DEFAULT_TIMEOUTS["provision"]  # one uv install of torch or the toolkit, one probe
    build: float = DEFAULT_TIMEOUTS["build"]  # the whole PEP 517 build (nvcc of every arch)
    repair: float = DEFAULT_TIMEOUTS["repair"]
    verify: float = DEFAULT_TIMEOUTS["verify"]

    def of(self, stage: str) -> float:
        """The limit of `stage`; fetch runs no commands, so one run right after it (c++ --version) gets provision's."""
        limit: float = getattr(self, stage) if stage in DEFAULT_TIMEOUTS else self.provision
        return limit


@dataclass(frozen=True, kw_only=True)
class BuildContext:
    cache: Path  # envs, toolkits, sdists, compile cache, package cache: shared by every tuple
    uv: Path  # the uv binary: creates envs, installs with hard links from one package cache
    recipes: dict[NormalizedName, Recipe]
    base_env: Mapping[str, str]  # the environment builds start from (PATH, HOME, ...)
    index_url: str = "https://pypi.org/simple"
    extra_index_urls: tuple[str, ...] = ()  # e.g. local mirrors (file:///...)
    pypi_json: str = "https://pypi.org/pypi"  # where sdists and their sha256 are looked up
    torch_index: str = "https://download.pytorch.org/whl"  # torch builds not on PyPI: <torch_index>/cu126
    cuda_homes: tuple[Path, ...] = ()  # toolkits to consider for CUDA 11/12 (CUDA_HOME, /usr/local/cuda-X.Y)
    python_dirs: tuple[Path, ...] = ()  # where to look for interpreters (pyenv's versions folder)
    jobs: int = 2  # parallel compile jobs inside one build (MAX_JOBS)
    ccache: Path | None = None  # compile cache; None disables it
    auditwheel: Path = Path("auditwheel")
    apt_get: Path | None = None  # fetches Debian's CUDA 11.8/12.4 toolkit .debs (None: not on this machine)
    dpkg: Path | None = None  # unpacks them (`dpkg -x`)
    debian_mirror: str = "http://deb.debian.org/debian"
    debian_keyring: Path = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
    sdist_overrides: Mapping[str, Path] = field(default_factory=dict)  # package -> local sdist (tests)
    verify_dependencies: bool = True  # install and import the package's declared dependencies too
    gpu_check: bool = False  # run the numerics check (needs a CUDA device)
    timeouts: StageTimeouts = StageTimeouts()  # per stage: how long one command may run

    @property
    def envs(self) -> Path:
        return self.cache / "envs"

    @property
    def toolkits(self) -> Path:
        return self.cache / "toolkits"

    @property
    def sdists(self) -> Path:
        return self.cache / "sdists"

    @property
    def uv_cache(self) -> Path:
        return self.cache / "uv"

    @property
    def ccache_dir(self) -> Path:
        return self.cache / "ccache"

    @property
    def torch_trees(self) -> Path:
        return self.cache / "torch-include"
