"""What users see: bytes a resolver downloads when several builds are listed (PEP 658), and the time of a
user install from the index against building the same two packages from source."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import httpx
from bench_catalog import _build
from bench_report import Section, ratio
from bench_servers import factory_serve_logged
from bench_tools import VENV_BIN, run

sys.path.append(str(Path(__file__).resolve().parents[1] / "tests" / "index"))
from fake_dists import write_wheel

from index_server.local import LocalIndex

PIP_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
BUILDS = (("2.9", "12.8"), ("2.10", "12.8"), ("2.11", "13.0"), ("2.14", "13.0"))  # root-channel builds
BLOB = 38 * 1000 * 1000


def _resolution_index(work: Path) -> Path:
    """mamba-ssm 2.3.1 in four builds (one per torch minor), each wheel 38 MB like a real sm_90 build."""
    data = work / "resolution" / "data"
    marker = work / "resolution" / ".complete"
    if not marker.exists():
        shutil.rmtree(work / "resolution", ignore_errors=True)
        index = LocalIndex(data)
        for torch, cuda in BUILDS:
            small = _build(work / "resolution" / "small", "mamba-ssm", "2.3.1", torch, cuda, "3.11")
            name, version = small.name.split("-")[0], small.name.split("-")[1]
            major, minor = torch.split(".")
            big = write_wheel(
                work / "resolution" / "wheels",
                name,
                version,
                tag="cp311-cp311-manylinux_2_28_x86_64",
                requires=(f"torch>={torch},<{major}.{int(minor) + 1}",),
                files={"mamba_ssm/kernels.bin": os.urandom(BLOB)},
            )
            index.ingest(big)
        marker.write_text("ok")
    return data


def _fetched_bytes(url: str, lines: list[str], index: LocalIndex) -> dict[str, int]:
    """Bytes of each kind of answer the access log shows (pages re-fetched as pip asks for them)."""
    sizes = {r.filename: r.size for r in index.files()}
    totals = {"pages": 0, "metadata": 0, "wheels": 0, "metadata files": 0}
    for line in lines:
        method, path, status = line.split(" ")
        if method != "GET" or status != "200":
            continue
        if path.endswith(".metadata"):
            totals["metadata"] += len(httpx.get(url + path, timeout=30).content)
            totals["metadata files"] += 1
        elif path.startswith("/files/"):
            totals["wheels"] += sizes[path.rsplit("/", 1)[1]]
        else:
            totals["pages"] += len(httpx.get(url + path, headers={"Accept": PIP_ACCEPT}, timeout=30).content)
    return totals


def client_env(work: Path) -> dict[str, str]:
    """pip and uv see only the index named on their command line (no pip.conf, find-links or uv.toml)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    return {**env, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "UV_NO_CONFIG": "1"}


def resolution(work: Path) -> Section:
    data = _resolution_index(work)
    index = LocalIndex(data)
    torch_dir = work / "resolution" / "torch"
    write_wheel(torch_dir, "torch", "2.9.0")
    env = client_env(work)
    section = Section(
        title="Bytes downloaded while resolving, several builds listed (PEP 658)",
        summary=(
            f"`pip install mamba-ssm` and `uv pip install mamba-ssm` into a venv holding (a stand-in) torch 2.9.0; "
            f"the root page lists {len(BUILDS)} builds of mamba-ssm 2.3.1 (one per torch minor, {BLOB / 1e6:.0f} MB "
            "each), so the resolver tries the newer builds first and backtracks. Bytes counted from the server's "
            "access log (pages re-fetched with pip's Accept)."
        ),
        header=(
            "client",
            "pages B",
            ".metadata fetched",
            ".metadata B",
            "wheel B",
            "total B",
            "without PEP 658, worst case B",
            "ratio",
        ),
    )
    for client in ("pip", "uv"):
        venv = work / "resolution" / f"venv-{client}"
        shutil.rmtree(venv, ignore_errors=True)
        run([sys.executable, "-m", "venv", str(venv)], env=env)
        python = venv / "bin" / "python"
        run(
            [str(python), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(torch_dir), "torch==2.9.0"],
            env=env,
        )
        server, log = factory_serve_logged(data, work / "resolution")
        try:
            cache = work / "resolution" / f"{client}-cache"
            shutil.rmtree(cache, ignore_errors=True)
            if client == "pip":
                argv = [str(python), "-m", "pip", "install", "--cache-dir", str(cache), "mamba-ssm"]
            else:
                argv = [
                    str(VENV_BIN / "uv"),
                    "pip",
                    "install",
                    "--python",
                    str(python),
                    "--cache-dir",
                    str(cache),
                    "mamba-ssm",
                ]
            out = run([*argv, "--index-url", f"{server.url}/simple/"], env=env)
            totals = _fetched_bytes(server.url, log.read_text().splitlines(), index)
        finally:
            server.stop()
        worst = totals["pages"] + sum(r.size for r in index.files() if r.project == "mamba-ssm")
        total = totals["pages"] + totals["metadata"] + totals["wheels"]
        section.rows.append(
            (
                client,
                f"{totals['pages']:,}",
                str(totals["metadata files"]),
                f"{totals['metadata']:,}",
                f"{totals['wheels']:,}",
                f"{total:,}",
                f"{worst:,}",
                ratio(total, worst),
            )
        )
        section.raw.append((" ".join(argv), out))
    section.notes.append(
        "Without PEP 658 a resolver downloads a whole wheel to read its metadata; the worst case is every listed "
        "build. With it, only the chosen build's wheel is downloaded."
    )
    return section


def user_install(work: Path, real_data: Path, cache: Path) -> Section:
    """pip install from `factory serve` on the quick profile's wheels vs the same two built from source."""
    title = "User install from the index vs building from source"
    from factory_bench import missing_quick_tuples

    if not (real_data / "catalog.sqlite3").exists() or missing_quick_tuples(real_data):
        return Section(title=title, summary=f"Skipped: no complete quick-profile index at {real_data}.", header=())
    root = work / "install"
    shutil.rmtree(root, ignore_errors=True)
    venv = root / "user-venv"
    uv = str(VENV_BIN / "uv")
    env = {**client_env(work), "UV_CACHE_DIR": str(cache / "uv")}  # torch from the factory's cache: hard links
    run([uv, "venv", "--python", "3.11", str(venv)], env=env)
    python = venv / "bin" / "python"
    run([uv, "pip", "install", "--python", str(python), "pip", "torch==2.14.1"], env=env, timeout=3600)
    server, _ = factory_serve_logged(real_data, root, upstream=True)
    argv = [str(python), "-m", "pip", "install", "--cache-dir", str(root / "pip-cache"), "mamba-ssm", "causal-conv1d"]
    try:
        started = time.monotonic()
        out = run([*argv, "--index-url", f"{server.url}/simple"], env=client_env(work), timeout=3600)
        install_s = time.monotonic() - started
    finally:
        server.stop()
    section = Section(
        title=title,
        summary=(
            "A venv with torch 2.14.1 (CUDA 13, from PyPI), then `pip install mamba-ssm causal-conv1d --index-url "
            "<factory>/simple` (dependencies pass through to PyPI), timed; against `factory build --profile quick` "
            "with ccache off and a cache of its own (only uv's package cache shared), i.e. both compiled from "
            "source for sm_90 only, as the factory builds them."
        ),
        header=("how", "seconds"),
        rows=[("pip install from the index (with dependency downloads)", f"{install_s:.1f}")],
        raw=[(" ".join(argv), out)],
    )
    out_dir = root / "source-build"
    # A cache of its own, sharing only uv's package cache (hard links, no download): the shared cache's
    # source trees hold compiled objects from earlier builds, and ninja would compile nothing.
    cold = root / "cold-cache"
    cold.mkdir()
    (cold / "uv").symlink_to(cache / "uv", target_is_directory=True)
    build = [str(VENV_BIN / "factory"), "build", "--profile", "quick", "--out", str(out_dir), "--cache", str(cold)]
    started = time.monotonic()
    built = run(build, env={**os.environ, "CCACHE_DISABLE": "1"}, timeout=7200)
    total_s = time.monotonic() - started
    for record in sorted(out_dir.glob("*/build.json")):
        seconds = json.loads(record.read_text()).get("seconds")
        section.rows.append((f"compile {record.parent.name} (build stage, sm_90)", f"{float(seconds):.1f}"))
    section.rows.append(("factory build --profile quick, whole (provision, build, repair, verify)", f"{total_s:.1f}"))
    section.raw.append((" ".join(build), built[-5000:]))
    section.notes.append(
        "A user's own `pip install mamba-ssm` from the sdist compiles upstream's default arch list (~9 archs for "
        "CUDA 13) and needs a CUDA toolkit installed first: far longer than the sm_90-only builds timed here."
    )
    return section
