"""The patched source tree of a job: unpacked and patched once per (sources, patches, toolchain).

Its path does not depend on the Python version, so every Python's build compiles the same device code
at the same path and ccache reuses it.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from factory.context import BuildContext
from factory.locks import locked
from factory.plan.job import Job
from factory.stages.fetch import Sdist
from factory.stages.patches import apply_patches
from factory.stages.records import StageFailed
from index_server.contract import Cause


@dataclass(frozen=True, kw_only=True)
class SourceTree:
    path: Path  # the sdist's top-level folder, patched
    patches: list[dict[str, object]]  # what each patch changed


def unpack(sdist: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with tarfile.open(sdist) as tar:
        tar.extractall(dest, filter="data")
    tops = [p for p in dest.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise StageFailed("build", Cause.BAD_SDIST, f"{sdist.name} does not hold exactly one top-level folder")
    return tops[0]


@contextmanager
def patched_source(job: Job, ctx: BuildContext, sdist: Sdist) -> Iterator[SourceTree]:
    """The job's patched tree, locked while the caller builds in it."""
    spec = job.spec
    key = f"{spec.package}-{spec.version}-{spec.toolchain_key}-{sdist.sha256[:12]}-{job.patches_digest}"
    root = ctx.cache / "src" / key
    with locked(root):
        marker = root / ".patched.json"
        if marker.exists():
            known = json.loads(marker.read_text())
            tree = SourceTree(path=Path(known["source"]), patches=known["patches"])
        else:
            source = unpack(sdist.path, root / "tree")
            tree = SourceTree(path=source, patches=apply_patches(source, job.patches))
            marker.write_text(json.dumps({"source": str(tree.path), "patches": tree.patches}))
        yield tree


def sdist_epoch(sdist: Path) -> int:
    """SOURCE_DATE_EPOCH of a build from `sdist`: the newest mtime among its members.

    The sdist tool stamps its members when it makes the sdist (PKG-INFO among them), so this is fixed
    by the release, needs no clock, and is the same wherever the sdist is read.
    """
    try:
        with tarfile.open(sdist) as tar:
            return max((int(m.mtime) for m in tar.getmembers()), default=0)
    except (OSError, tarfile.TarError) as err:
        raise StageFailed("repair", Cause.BAD_SDIST, f"cannot read {sdist.name} for its timestamps: {err}") from err
