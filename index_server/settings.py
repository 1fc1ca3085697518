"""IndexSettings: all the app needs, parsed once by the CLI and passed in (nothing reads os.environ)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from index_server.wants import WantPlan

DEFAULT_UPSTREAM = "https://pypi.org/simple/"
# torch (and the packages that pin one exact torch) are never taken from upstream, so a resolver can only
# keep the user's torch and backtrack to the build whose pin it satisfies. torch pins its own CUDA
# libraries exactly, so they cannot move either. A blanket nvidia-* block is too wide: mamba-ssm's
# dependency quack-kernels needs nvidia-cutlass-dsl; pass --never-upstream 'nvidia-*' to add it anyway.
DEFAULT_NEVER_UPSTREAM = ("torch", "torchvision", "torchaudio")


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Zip-bomb and size limits applied to every ingested file, each checked before the thing it bounds
    is read into memory (the zip's directory from its end record, a tar header from its size field)."""

    max_upload_bytes: int = 2 * 1024**3
    max_uncompressed_bytes: int = 8 * 1024**3
    max_members: int = 100_000
    max_ratio: float = 200.0  # uncompressed / compressed, per member larger than 1 MiB
    max_directory_bytes: int = 16 * 1024**2  # a zip's central directory (100k members of ~160 bytes)
    max_header_bytes: int = 64 * 1024  # one tar header's extension (GNU long name, PAX record)
    max_path_chars: int = 1024  # one member path
    max_metadata_bytes: int = 1024**2  # METADATA / PKG-INFO, served as `.metadata` and cached in memory
    max_build_info_bytes: int = 256 * 1024  # factory_build.json, embedded in every JSON page of its project


@dataclass(frozen=True, kw_only=True)
class IndexSettings:
    data_dir: Path
    upload_tokens: frozenset[str] = frozenset()
    upstream_url: str | None = DEFAULT_UPSTREAM  # None: no pass-through
    upstream_ttl_s: float = 600.0
    upstream_timeout_s: float = 20.0  # one whole fetch: connect, redirects, body
    upstream_failure_ttl_s: float = 10.0  # how long a failed fetch is answered from memory
    upstream_concurrency: int = 8  # fetches in flight at once; other names wait (without a thread)
    never_upstream: tuple[str, ...] = DEFAULT_NEVER_UPSTREAM
    # Names the index hosts whether or not it holds a file of them yet (the CLI passes every package the
    # matrix and the recipes build, plus --hosted): never answered from upstream, in any channel.
    hosted: frozenset[str] = frozenset()
    # torch minor -> CUDA major of PyPI's own torch: which builds `/simple/` lists. The CLI computes it
    # from the factory's knowledge table; empty, the root channel lists only unlabelled files.
    root_cuda_major: dict[str, int] = field(default_factory=dict)
    page_max_age_s: int = 60
    public_url: str | None = None  # e.g. https://wheels.example.org, used in the sentinel's message
    access_log: Path | None = None  # one line per request: "METHOD PATH STATUS"
    worker_header: bool = False  # add X-Index-Worker: <pid> to every answer (tests, benchmarks)
    limits: Limits = field(default_factory=Limits)
    # issue 23: sentinels report the tuple they found no build for; the page lists them, judged by the plan.
    record_wants: bool = True  # False: sentinels report nothing and POST /wants/ answers 404
    max_wants: int = 10_000  # distinct wanted tuples kept, all projects
    max_wants_per_project: int = 1_000
    want_plan: WantPlan | None = None  # the factory's verdicts (`factory serve` computes them from matrix.toml)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hosted", frozenset(canonicalize_name(n) for n in self.hosted))

    def blocks_upstream(self, name: str) -> bool:
        """True when `name` must never be served from upstream (torch and its companions by default, and
        every hosted name)."""
        normalized = canonicalize_name(name)
        if self.is_hosted(normalized):
            return True
        return any(fnmatch.fnmatchcase(normalized, canonicalize_name(p)) for p in self.never_upstream)

    def is_hosted(self, name: str) -> bool:
        """True when `name` is declared hosted: its pages list the catalog's files and the sentinel only."""
        return canonicalize_name(name) in self.hosted

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.sqlite3"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def wants_path(self) -> Path:
        return self.data_dir / "wants.sqlite3"
