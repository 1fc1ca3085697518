"""The sentinel sdist: version 0.0.0 of every hosted project, whose build fails at once with advice.

pip and uv reach it only after every real wheel was rejected (wrong torch, CUDA or Python). Its in-tree
build backend raises before anything compiles, naming the project's build-matrix page. The archive is
deterministic (fixed mtimes, sorted members) so its sha256 is stable for a given URL.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from functools import lru_cache

SENTINEL_VERSION = "0.0.0"

_BACKEND = '''"""Build backend of a sentinel: it refuses every build (nothing is compiled)."""

import platform
import sys

MESSAGE = {message!r}


def _refuse(*args, **kwargs):
    here = f"(this installer runs Python {{platform.python_version()}} on {{sys.platform}} {{platform.machine()}})"
    raise SystemExit(MESSAGE + here + "\\n")


get_requires_for_build_wheel = _refuse
get_requires_for_build_sdist = _refuse
prepare_metadata_for_build_wheel = _refuse
build_wheel = _refuse
build_sdist = _refuse
get_requires_for_build_editable = _refuse
prepare_metadata_for_build_editable = _refuse
build_editable = _refuse
'''

_PYPROJECT = """[build-system]
requires = []
build-backend = "factory_sentinel_backend"
backend-path = ["."]
"""


def sentinel_filename(project: str) -> str:
    return f"{project.replace('-', '_')}-{SENTINEL_VERSION}.tar.gz"


def sentinel_message(project: str, matrix_url: str) -> str:
    return (
        f"\n\n{project}: no prebuilt wheel on this index matches your torch / CUDA / Python.\n"
        f"This is the index's sentinel {project} {SENTINEL_VERSION}: the installer reached it because every "
        "real build was rejected (their torch pin, CUDA channel or Python tag did not fit).\n"
        f"See which builds exist: {matrix_url}\n"
        "Install a torch that a build supports, or use the channel of your CUDA major "
        "(.../cu12/simple, .../cu13/simple).\n"
        "Used pip install --force-reinstall? It makes pip resolve torch again, which this index never serves, "
        "so no build's torch requirement can be met. Fix: add --no-deps, or add torch's own index "
        "(https://download.pytorch.org/whl/cuXXX) with --extra-index-url. Nothing was compiled.\n"
    )


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    info.uname = info.gname = "root"
    tar.addfile(info, io.BytesIO(data))


@lru_cache(maxsize=256)
def build_sentinel(project: str, matrix_url: str) -> bytes:
    """The sentinel sdist's bytes for `project`, pointing at `matrix_url`."""
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
        _add(
            tar,
            f"{base}/factory_sentinel_backend.py",
            _BACKEND.format(message=sentinel_message(project, matrix_url)).encode(),
        )
        _add(tar, f"{base}/pyproject.toml", _PYPROJECT.encode())
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def sentinel_sha256(project: str, matrix_url: str) -> str:
    return hashlib.sha256(build_sentinel(project, matrix_url)).hexdigest()
