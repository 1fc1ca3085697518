"""The builds an index has published, read from its PEP 691 JSON pages (`_factory_build` per file).

Used by `factory plan --index URL` (the CLI layer): the channel pages of every planned package are read
once (the root channel and each planned CUDA major's, since a file shows in one of them), and handed as
data to the pure factory.run.builds planner.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx

from factory.errors import FactoryError
from factory.run.builds import PublishedBuild, by_tuple

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


class IndexReadError(FactoryError):
    """The index's JSON page could not be read."""


def _page(client: httpx.Client, url: str) -> list[dict[str, Any]]:
    try:
        response = client.get(url, headers={"Accept": JSON_TYPE}, follow_redirects=True)
    except httpx.HTTPError as err:
        raise IndexReadError(f"cannot read {url}: {err}; is the index running and the URL right?") from err
    if response.status_code == 404:
        return []  # nothing of this package published (yet)
    if response.status_code != 200 or not response.headers.get("content-type", "").startswith(JSON_TYPE):
        raise IndexReadError(
            f"{url} answered {response.status_code} {response.headers.get('content-type')!r}, not a PEP 691 "
            "JSON page; pass the index's base URL (the one serving /simple/)"
        )
    files: list[dict[str, Any]] = response.json().get("files", [])
    return files


def published_builds(
    index_url: str, packages: Iterable[str], cuda_majors: Iterable[int], client: httpx.Client
) -> dict[str, list[PublishedBuild]]:
    """Every factory wheel of `packages` on the index at `index_url`, grouped by tuple id."""
    base = index_url.rstrip("/")
    prefixes = ["", *(f"cu{m}/" for m in sorted(set(cuda_majors)))]
    seen: dict[str, tuple[str, dict[str, Any] | None, bool]] = {}
    for package in sorted(set(packages)):
        for prefix in prefixes:
            for entry in _page(client, f"{base}/{prefix}simple/{package}/"):
                info = entry.get("_factory_build")
                seen[entry["filename"]] = (entry["filename"], info, entry.get("yanked", False) is not False)
    return by_tuple(seen.values())
