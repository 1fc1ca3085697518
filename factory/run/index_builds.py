"""The builds an index has published, read from its PEP 691 JSON pages (`_factory_build` per file).

Used by `factory plan --index URL` (the CLI layer): the channel pages of every planned package are read
once (the root channel and each planned CUDA major's, since a file shows in one of them), and handed as
data to the pure factory.run.builds planner. URL may be the index's base, the URL pip is given
(`<base>/simple`) or a channel's (`<base>/cu13/simple`): all three read the same pages. The root is read
first and must answer as a PEP 691 index, so a wrong URL fails instead of every package page's 404
reading as "nothing published yet".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import httpx

from factory.errors import FactoryError
from factory.run.builds import PublishedBuild, by_tuple

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
_SIMPLE_SUFFIX = re.compile(r"/(?:cu\d+/)?simple$")


class IndexReadError(FactoryError):
    """The index's JSON page could not be read, or the URL is not an index."""


def base_candidates(index_url: str) -> list[str]:
    """The base URLs `index_url` may mean, most likely first: with a trailing `/simple` (or `/cuN/simple`)
    taken off, then as given (an index whose base itself ends in /simple)."""
    given = index_url.strip().rstrip("/")
    stripped = _SIMPLE_SUFFIX.sub("", given)
    return [stripped, given] if stripped != given else [given]


def _get(client: httpx.Client, url: str) -> httpx.Response:
    try:
        return client.get(url, headers={"Accept": JSON_TYPE}, follow_redirects=True)
    except httpx.HTTPError as err:
        raise IndexReadError(f"cannot read {url}: {err}; is the index running and the URL right?") from err


def _is_json(response: httpx.Response) -> bool:
    return response.status_code == 200 and response.headers.get("content-type", "").startswith(JSON_TYPE)


def _answers_as_index(response: httpx.Response) -> bool:
    if not _is_json(response):
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("meta"), dict) and isinstance(body.get("projects"), list)


def index_base(index_url: str, client: httpx.Client) -> str:
    """The base URL of the index `index_url` names, checked: its `/simple/` answers as a PEP 691 index."""
    tried = []
    for base in base_candidates(index_url):
        response = _get(client, f"{base}/simple/")
        if _answers_as_index(response):
            return base
        tried.append(f"{base}/simple/ answered {response.status_code} {response.headers.get('content-type')!r}")
    raise IndexReadError(
        f"{index_url} is not a PEP 691 package index ({'; '.join(tried)}); pass the index's base URL or the "
        "URL pip is given (<base>/simple)"
    )


def _page(client: httpx.Client, url: str) -> list[dict[str, Any]]:
    response = _get(client, url)
    if response.status_code == 404:
        return []  # the index answered at its root: nothing of this package published (yet)
    if not _is_json(response):
        raise IndexReadError(
            f"{url} answered {response.status_code} {response.headers.get('content-type')!r}, not a PEP 691 JSON page"
        )
    files: list[dict[str, Any]] = response.json().get("files", [])
    return files


def published_builds(
    index_url: str, packages: Iterable[str], cuda_majors: Iterable[int], client: httpx.Client
) -> dict[str, list[PublishedBuild]]:
    """Every factory wheel of `packages` on the index at `index_url`, grouped by tuple id."""
    base = index_base(index_url, client)
    prefixes = ["", *(f"cu{m}/" for m in sorted(set(cuda_majors)))]
    seen: dict[str, tuple[str, dict[str, Any] | None, bool]] = {}
    for package in sorted(set(packages)):
        for prefix in prefixes:
            for entry in _page(client, f"{base}/{prefix}simple/{package}/"):
                info = entry.get("_factory_build")
                seen[entry["filename"]] = (entry["filename"], info, entry.get("yanked", False) is not False)
    return by_tuple(seen.values())
