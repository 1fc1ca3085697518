"""The synthetic catalog the index benchmarks serve: ~610 small fake wheels (tests/index/fake_dists.py)
whose root `/simple/mamba-ssm/` page lists 180 of them, plus one 38 MB wheel-shaped file for downloads."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from index_server.local import LocalIndex
from index_server.pages.channels import ROOT, in_channel
from index_server.storage.catalog import FileRecord

sys.path.append(str(Path(__file__).resolve().parents[1] / "tests" / "index"))
from fake_dists import build_spec_json, write_wheel

# Root-channel CUDA per torch minor (PyPI's torch's major), and a build of another major (channel only).
ROOT_CUDA = {"2.6": "12.4", "2.7": "12.6", "2.8": "12.8", "2.9": "12.8", "2.10": "12.8", "2.11": "13.0"}
OTHER_CUDA = {"2.6": "11.8", "2.7": "11.8", "2.8": "13.0", "2.9": "13.0", "2.10": "13.0", "2.11": "12.8"}
PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13")
RELEASES = {
    "mamba-ssm": ("2.2.2", "2.2.4", "2.2.5", "2.2.6.post3", "2.3.0", "2.3.1"),
    "causal-conv1d": ("1.4.0", "1.5.2", "1.6.0", "1.6.1", "1.6.2.post1", "1.7.0"),
}
OTHER_PER_PACKAGE = 125  # builds listed only under /cuNN/simple/: 2 x (180 + 125) = 610 files
BIG_PROJECT = "download-probe"
BIG_BYTES = 38 * 1000 * 1000


@dataclass(frozen=True)
class Catalog:
    data: Path
    files: int
    root_page_files: int  # files of mamba-ssm on the root /simple/mamba-ssm/ page
    big_wheel: str  # URL path of the 38 MB file


def _build(out: Path, package: str, release: str, torch: str, cuda: str, python: str) -> Path:
    major, minor = torch.split(".")
    c_major, c_minor = cuda.split(".")
    tag = "cp" + python.replace(".", "")
    info = build_spec_json(release, cuda, torch, python)
    info["spec"]["package"] = package
    return write_wheel(
        out,
        package,
        f"{release}+cu.{c_major}.{c_minor}.torch.{major}.{minor}.abi.1",
        tag=f"{tag}-{tag}-manylinux_2_28_x86_64",
        requires=(f"torch>={torch},<{major}.{int(minor) + 1}",),
        requires_python=">=3.9",
        build_info=info,
    )


def _wheels(out: Path) -> list[Path]:
    paths: list[Path] = []
    for package, releases in RELEASES.items():
        others = 0
        for release in releases:
            for torch, cuda in ROOT_CUDA.items():
                for python in PYTHONS:
                    paths.append(_build(out, package, release, torch, cuda, python))
                    if others < OTHER_PER_PACKAGE:
                        paths.append(_build(out, package, release, torch, OTHER_CUDA[torch], python))
                        others += 1
    return paths


def big_wheel(out: Path) -> Path:
    """A valid wheel holding 38 MB of random (incompressible) bytes, like a real sm_90 build's size."""
    blob = os.urandom(BIG_BYTES)
    return write_wheel(out, BIG_PROJECT, "1.0", files={"download_probe/kernels.bin": blob})


def build_catalog(work: Path, root_cuda_major: dict[str, int]) -> Catalog:
    """Make (once) and describe the catalog under work/catalog/data."""
    data = work / "catalog" / "data"
    done = work / "catalog" / ".complete"
    index = LocalIndex(data)
    if not done.exists():
        wheels = work / "catalog" / "wheels"
        for path in [*_wheels(wheels), big_wheel(wheels)]:
            index.ingest(path)
        done.write_text("ok")
    records = index.files()
    big = next(r for r in records if r.project == BIG_PROJECT)
    return Catalog(
        data=data,
        files=len(records),
        root_page_files=sum(1 for r in records if r.project == "mamba-ssm" and _on_root(r, root_cuda_major)),
        big_wheel=f"/files/{BIG_PROJECT}/{big.filename}",
    )


def _on_root(record: FileRecord, root_cuda_major: dict[str, int]) -> bool:
    return in_channel(record.version, ROOT, root_cuda_major)
