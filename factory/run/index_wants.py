"""The wants an index recorded, read from its `/wants/` JSON (a URL) or its want store (a data directory).

Used by `factory plan --wanted` and `factory run --wanted` (the CLI layer), which hand them as data to the
pure factory.plan.wanted planner.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from factory.errors import FactoryError
from index_server.wants import Want


class WantsReadError(FactoryError):
    """The index's wants could not be read."""


def read_wants(source: str, client: httpx.Client | None = None) -> list[Want]:
    """Every want of the index at `source`: an http(s) base URL, or the data directory of a local index."""
    if source.startswith(("http://", "https://")):
        return _from_url(source.rstrip("/") + "/wants/", client)
    data = Path(source)
    if not (data / "catalog.sqlite3").is_file():
        raise WantsReadError(
            f"--wanted {source}: neither an http(s) URL nor an index data directory (no catalog.sqlite3 there)"
        )
    from index_server.settings import IndexSettings
    from index_server.storage.wants import WantStore

    path = IndexSettings(data_dir=data).wants_path
    return WantStore(path).wants() if path.is_file() else []


def _from_url(url: str, client: httpx.Client | None) -> list[Want]:
    own = client is None
    http = httpx.Client(timeout=60) if client is None else client
    try:
        response = http.get(url, headers={"Accept": "application/json"}, follow_redirects=True)
    except httpx.HTTPError as err:
        raise WantsReadError(f"cannot read {url}: {err}; is the index running and the URL right?") from err
    finally:
        if own:
            http.close()
    if response.status_code != 200:
        raise WantsReadError(
            f"{url} answered {response.status_code}; pass the index's base URL (the one serving /simple/ and /wants/)"
        )
    try:
        return [Want.from_json(row) for row in response.json()["wants"]]
    except (ValueError, KeyError, TypeError) as err:
        raise WantsReadError(f"{url} did not answer a want list: {type(err).__name__}: {err}") from None
