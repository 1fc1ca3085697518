"""Index page req/s and wheel download MB/s: `factory serve` beside nginx on its static export (equal
workers), and beside pypiserver and devpi-server serving the same files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
from bench_catalog import BIG_PROJECT, Catalog
from bench_report import Section, ratio
from bench_servers import devpi, factory_serve, flat_dir, nginx, pypiserver, static_export
from bench_tools import BenchError, Server, WrkResult, wrk

from index_server.pages.channels import ROOT, in_channel

JSON = "application/vnd.pypi.simple.v1+json"
PAGE = "/simple/mamba-ssm/"
# Three sizes (issue 20): at 90 KB both servers mostly copy bytes, which hides the per-request cost that
# the index page (under 1 KB) and a ~20 KB page (the CUDA 11 channel's mamba-ssm builds) show.
PAGES = ("/simple/", "/cu11/simple/mamba-ssm/", PAGE)
PAGE_GOAL = 0.15
DOWNLOAD_GOAL = 0.5


@dataclass(frozen=True, kw_only=True)
class Options:
    work: Path
    duration: str
    connections: int
    lua: Path


def _full_body(server: Server, path: str, accept: str | None) -> int:
    """The page's length, after checking one plain GET of it is a 200 (and warming any cache)."""
    headers = {"Accept": accept} if accept else {}
    response = httpx.get(server.url + path, headers=headers, timeout=30)
    if response.status_code != 200:
        raise BenchError(f"{server.name}: GET {path} answered {response.status_code}, not 200")
    return len(response.content)


def _measure(server: Server, path: str, accept: str | None, opts: Options, connections: int | None = None) -> WrkResult:
    length = _full_body(server, path, accept)
    result = wrk(
        server.url + path,
        duration=opts.duration,
        connections=connections or opts.connections,
        accept=accept,
        lua=opts.lua,
    )
    if result.bad_status or result.socket_errors:
        raise BenchError(
            f"{server.name}: {result.bad_status} non-2xx/3xx answers, {result.socket_errors} socket errors"
        )
    if result.bytes_per_response < length:
        raise BenchError(f"{server.name}: {result.bytes_per_response:.0f} bytes per answer < the {length}-byte page")
    return result


def _check(result: WrkResult, length: int) -> str:
    return f"{result.requests} answers, all 2xx, {result.bytes_per_response:.0f} B each (page {length} B)"


def pages(catalog: Catalog, opts: Options) -> Section:
    export = static_export(catalog.data, opts.work / "export")
    section = Section(
        title="Index page: `factory serve` vs nginx on the static export",
        summary=(
            f"Three pages: `GET {PAGES[0]}` (the project list), `GET {PAGES[1]}` (one CUDA channel's builds) and "
            f"`GET {PAGE}` ({catalog.root_page_files} files listed, catalog of {catalog.files} files), HTML and "
            f"PEP 691 JSON (Accept header; nginx picks index.json by the same header), wrk with "
            f"{opts.connections} connections for {opts.duration}, no If-None-Match: every answer a full 200. "
            f"Goal: >= {PAGE_GOAL}x nginx at equal workers."
        ),
        header=("workers", "page", "format", "bytes", "factory serve req/s", "nginx req/s", "ratio", "goal met"),
    )
    formats = (("HTML", None), ("JSON", JSON))
    for workers in (1, 2):
        results: dict[tuple[str, str, str], WrkResult] = {}
        lengths: dict[tuple[str, str], int] = {}
        for name, start in (
            ("factory", lambda w=workers: factory_serve(catalog.data, w, opts.work)),
            ("nginx", lambda w=workers: nginx(export, w, opts.work / "nginx")),
        ):
            server = start()
            try:
                for path in PAGES:
                    for kind, accept in formats:
                        result = _measure(server, path, accept, opts)
                        length = lengths[(path, kind)] = _full_body(server, path, accept)
                        results[(name, path, kind)] = result
                        section.raw.append((result.command, result.raw))
                        section.notes.append(f"{server.name}, {path} {kind}: {_check(result, length)}")
            finally:
                server.stop()
        for path in PAGES:
            for kind, _accept in formats:
                mine, theirs = results[("factory", path, kind)].req_s, results[("nginx", path, kind)].req_s
                met = "yes" if mine >= PAGE_GOAL * theirs else "NO"
                row = (str(workers), f"`{path}`", kind, f"{lengths[(path, kind)]:,}")
                section.rows.append((*row, f"{mine:,.0f}", f"{theirs:,.0f}", ratio(mine, theirs), met))
    return section


def peers(catalog: Catalog, opts: Options) -> Section:
    from factory.plan.knowledge import load_knowledge
    from index_server.local import LocalIndex

    index = LocalIndex(catalog.data)
    root_map = load_knowledge().pypi_cuda_major()  # what `factory serve` hands its root channel
    listed = [r for r in index.files() if r.project != BIG_PROJECT and in_channel(r.version, ROOT, root_map)]
    on_page = sum(1 for r in listed if r.project == "mamba-ssm")
    if on_page != catalog.root_page_files:
        raise BenchError(f"the peers would list {on_page} mamba-ssm files, factory serve {catalog.root_page_files}")
    folder = flat_dir([index.file_path(r) for r in listed], opts.work / "peer-packages")
    section = Section(
        title="Index page: `factory serve` vs pypiserver and devpi-server (from PyPI)",
        summary=(
            f"`GET` of the mamba-ssm project page, HTML, one process each, wrk with {opts.connections} connections "
            f"for {opts.duration}. The peers serve the {len(listed)} files of the root channel from a folder (devpi: "
            "uploaded into an index root/bench without a PyPI base), so their page lists the same 180 files."
        ),
        header=("server", "version", "page", "req/s", "factory serve / it"),
    )
    server = factory_serve(catalog.data, 1, opts.work)
    try:
        factory_result = _measure(server, PAGE, None, opts)
        section.raw.append((factory_result.command, factory_result.raw))
    finally:
        server.stop()
    section.rows.append(("factory serve", "this commit", PAGE, f"{factory_result.req_s:,.0f}", "1x"))
    for name, start, path in (
        ("pypiserver", lambda: pypiserver(opts.work / "venvs", folder, opts.work), "/simple/mamba-ssm/"),
        (
            "devpi-server",
            lambda: devpi(opts.work / "venvs", folder, opts.work, opts.work),
            "/root/bench/+simple/mamba-ssm/",
        ),
    ):
        peer, version = start()
        try:
            result = _measure(peer, path, None, opts)
            section.raw.append((result.command, result.raw))
        finally:
            peer.stop()
        section.rows.append((name, version, path, f"{result.req_s:,.0f}", ratio(factory_result.req_s, result.req_s)))
    return section


def _range_check(server: Server, path: str) -> str:
    response = httpx.get(server.url + path, headers={"Range": "bytes=100-199"}, timeout=30)
    if response.status_code != 206 or len(response.content) != 100:
        raise BenchError(f"{server.name}: Range request answered {response.status_code}, {len(response.content)} bytes")
    return f"{server.name}: Range bytes=100-199 -> 206, 100 bytes"


def download(catalog: Catalog, opts: Options) -> Section:
    export = static_export(catalog.data, opts.work / "export")
    size = (catalog.data / "files" / catalog.big_wheel.removeprefix("/files/")).stat().st_size
    section = Section(
        title="Wheel download: `factory serve` vs nginx",
        summary=(
            f"`GET {catalog.big_wheel}` ({size / 1e6:.1f} MB), wrk with 4 connections for {opts.duration}, one worker "
            f"each; MB/s is bytes read / seconds. Goal: >= {DOWNLOAD_GOAL}x nginx."
        ),
        header=("server", "MB/s", "downloads", "ratio", "goal met"),
    )
    figures: dict[str, float] = {}
    for name, start in (
        ("factory", lambda: factory_serve(catalog.data, 1, opts.work)),
        ("nginx", lambda: nginx(export, 1, opts.work / "nginx")),
    ):
        server = start()
        try:
            result = _measure(server, catalog.big_wheel, None, opts, connections=4)
            section.raw.append((result.command, result.raw))
            section.notes.append(_range_check(server, catalog.big_wheel))
            figures[name] = result.mb_s
            section.rows.append((server.name, f"{result.mb_s:,.0f}", str(result.requests), "", ""))
        finally:
            server.stop()
    mine, theirs = figures["factory"], figures["nginx"]
    section.rows[0] = (*section.rows[0][:3], ratio(mine, theirs), "yes" if mine >= DOWNLOAD_GOAL * theirs else "NO")
    return section
