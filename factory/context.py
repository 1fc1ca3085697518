"""BuildContext: the settings every build stage reads, made once by the CLI (no stage reads os.environ)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import NormalizedName

from factory.recipes import Recipe


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
    sdist_overrides: Mapping[str, Path] = field(default_factory=dict)  # package -> local sdist (tests)
    verify_dependencies: bool = True  # install and import the package's declared dependencies too
    gpu_check: bool = False  # run the numerics check (needs a CUDA device)

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
