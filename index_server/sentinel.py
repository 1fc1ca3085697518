"""The sentinel sdist: version 0.0.0 of every hosted project, whose build fails at once with advice.

pip and uv reach it only after every real wheel was rejected (wrong torch, CUDA or Python). Its in-tree
build backend (`sentinel_backend.py`, packed verbatim) raises before anything compiles: it names the tuple
of the environment being installed into, the nearest builds the index has (baked in here as
`factory_sentinel.json`, with the project's page and the URL wants are reported to) and what happens next.
The archive is deterministic (fixed mtimes, fixed member order) so its sha256 is stable for given inputs.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources

SENTINEL_VERSION = "0.0.0"

_PYPROJECT = """[build-system]
requires = []
build-backend = "factory_sentinel_backend"
backend-path = ["."]
"""


def sentinel_filename(project: str) -> str:
    return f"{project.replace('-', '_')}-{SENTINEL_VERSION}.tar.gz"


@dataclass(frozen=True, order=True)
class SentinelBuild:
    """One build the index has, as the sentinel words it: "causal-conv1d 1.7.0 for torch 2.14 + ..."."""

    version: str  # public
    torch: str  # minor
    cuda: str  # toolkit, "13.0"
    abi: bool
    python: str  # "3.11"
    channels: tuple[str, ...]  # "/simple/", "/cu13/simple/"


def sentinel_config(
    project: str, matrix_url: str, want_url: str | None, builds: tuple[SentinelBuild, ...]
) -> dict[str, object]:
    return {
        "project": project,
        "page": matrix_url,
        "want_url": want_url,
        "builds": [{**asdict(b), "channels": list(b.channels)} for b in builds],
    }


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    info.uname = info.gname = "root"
    tar.addfile(info, io.BytesIO(data))


def _backend_source() -> bytes:
    return resources.files("index_server").joinpath("sentinel_backend.py").read_bytes()


@lru_cache(maxsize=256)
def build_sentinel(
    project: str, matrix_url: str, want_url: str | None = None, builds: tuple[SentinelBuild, ...] = ()
) -> bytes:
    """The sentinel sdist's bytes for `project`: pointing at `matrix_url`, reporting wants to `want_url`
    (None: it reports nothing), naming `builds` (in the order given) as what the index has."""
    base = f"{project.replace('-', '_')}-{SENTINEL_VERSION}"
    pkg_info = (
        "Metadata-Version: 2.1\n"
        f"Name: {project}\n"
        f"Version: {SENTINEL_VERSION}\n"
        f"Summary: sentinel: no prebuilt wheel fits; see {matrix_url}\n"
    ).encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, f"{base}/PKG-INFO", pkg_info)
        _add(tar, f"{base}/factory_sentinel_backend.py", _backend_source())
        config = sentinel_config(project, matrix_url, want_url, builds)
        _add(tar, f"{base}/factory_sentinel.json", json.dumps(config, indent=1, sort_keys=True).encode())
        _add(tar, f"{base}/pyproject.toml", _PYPROJECT.encode())
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def sentinel_sha256(
    project: str, matrix_url: str, want_url: str | None = None, builds: tuple[SentinelBuild, ...] = ()
) -> str:
    return hashlib.sha256(build_sentinel(project, matrix_url, want_url, builds)).hexdigest()
