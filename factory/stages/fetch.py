"""fetch: the upstream sdist from PyPI, checked against the sha256 the index publishes, cached."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx
from packaging.version import Version

from factory.context import BuildContext
from factory.plan.spec import BuildSpec
from factory.stages.records import StageFailed, sha256_file, write_json_atomic
from index_server.contract import Cause


@dataclass(frozen=True, kw_only=True)
class Sdist:
    path: Path
    filename: str
    sha256: str
    url: str

    def describe(self) -> dict[str, str]:
        return {"filename": self.filename, "sha256": self.sha256, "url": self.url}


def fetch_sdist(spec: BuildSpec, ctx: BuildContext, client: httpx.Client) -> Sdist:
    override = ctx.sdist_overrides.get(str(spec.package))
    if override is not None:
        return Sdist(path=override, filename=override.name, sha256=sha256_file(override), url=override.as_uri())
    folder = ctx.sdists / f"{spec.package}-{spec.version}"
    sidecar = folder / "sdist.json"
    if sidecar.exists():
        known = json.loads(sidecar.read_text())
        cached = folder / known["filename"]
        if cached.exists() and sha256_file(cached) == known["sha256"]:
            return Sdist(path=cached, filename=known["filename"], sha256=known["sha256"], url=known["url"])
    url, filename, sha256 = _lookup(spec, ctx, client)
    folder.mkdir(parents=True, exist_ok=True)
    # streamed to a unique name beside the target (two runs may fetch at once), renamed once verified
    fd, name = tempfile.mkstemp(dir=folder, prefix=filename, suffix=".part")
    partial = Path(name)
    try:
        try:
            with client.stream("GET", url, follow_redirects=True) as response, os.fdopen(fd, "wb") as out:
                response.raise_for_status()
                for chunk in response.iter_bytes():
                    out.write(chunk)
        except httpx.HTTPError as err:
            raise StageFailed("fetch", Cause.FETCH_FAILED, f"cannot download {url}: {err}") from err
        got = sha256_file(partial)
        if got != sha256:
            raise StageFailed(
                "fetch",
                Cause.SDIST_DIGEST_MISMATCH,
                f"{filename}: sha256 {got} but PyPI publishes {sha256}; not building it",
            )
        os.replace(partial, folder / filename)
    finally:
        partial.unlink(missing_ok=True)
    write_json_atomic(sidecar, {"filename": filename, "sha256": sha256, "url": url})
    return Sdist(path=folder / filename, filename=filename, sha256=sha256, url=url)


def sdist_sha256(spec: BuildSpec, ctx: BuildContext, client: httpx.Client) -> str:
    """The sha256 of the sdist `fetch_sdist` would use, without downloading it (the input key's input):
    a local override's own digest, the cached sidecar's, else the digest PyPI's JSON API publishes."""
    override = ctx.sdist_overrides.get(str(spec.package))
    if override is not None:
        return sha256_file(override)
    sidecar = ctx.sdists / f"{spec.package}-{spec.version}" / "sdist.json"
    if sidecar.exists():
        return str(json.loads(sidecar.read_text())["sha256"])
    return _lookup(spec, ctx, client)[2]


def _lookup(spec: BuildSpec, ctx: BuildContext, client: httpx.Client) -> tuple[str, str, str]:
    api = f"{ctx.pypi_json}/{spec.package}/json"
    try:
        response = client.get(api, follow_redirects=True)
        response.raise_for_status()
        releases = response.json()["releases"]
    except (httpx.HTTPError, ValueError, KeyError) as err:
        raise StageFailed("fetch", Cause.FETCH_FAILED, f"cannot read {api}: {err}") from err
    files = next((f for v, f in releases.items() if Version(v) == spec.version), None)
    if files is None:
        raise StageFailed("fetch", Cause.NO_SDIST, f"{spec.package} has no release {spec.version} on PyPI ({api})")
    sdists = [f for f in files if f.get("packagetype") == "sdist" and not f.get("yanked")]
    if not sdists:
        raise StageFailed("fetch", Cause.NO_SDIST, f"{spec.package} {spec.version} has no sdist on PyPI ({api})")
    chosen = sdists[0]
    return chosen["url"], chosen["filename"], chosen["digests"]["sha256"]
