"""How `factory serve --workers N` hands its settings to uvicorn's worker processes.

The CLI parses its options into IndexSettings once, writes them to a private JSON file, names the file in
the environment variable below and starts uvicorn with the import string of `create_app_from_environment`
and `factory=True`. Each worker process (uvicorn spawns them fresh) calls that factory, which is this
process's entry point, the one place here that reads the environment: it builds its own app, its own
SQLite connections and its own page cache. Nothing is global at import.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import typing
from pathlib import Path
from typing import Any

from index_server.settings import IndexSettings, Limits
from index_server.wants import WantPlan

SETTINGS_ENV = "FACTORY_INDEX_SETTINGS_FILE"
APP_FACTORY = "index_server.worker_entry:create_app_from_environment"


class SettingsFileError(Exception):
    """The settings file named in the environment is missing or unreadable."""


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Limits):
        return dataclasses.asdict(value)
    if isinstance(value, WantPlan):
        return value.to_json()
    return value


def settings_to_json(settings: IndexSettings) -> str:
    return json.dumps({f.name: _plain(getattr(settings, f.name)) for f in dataclasses.fields(settings)})


def settings_from_json(text: str) -> IndexSettings:
    raw = json.loads(text)
    hints = typing.get_type_hints(IndexSettings)
    values: dict[str, Any] = {}
    for name, value in raw.items():
        hint = str(hints[name])
        if value is None:
            values[name] = None
        elif "Path" in hint:
            values[name] = Path(value)
        elif "frozenset" in hint:
            values[name] = frozenset(value)
        elif "tuple" in hint:
            values[name] = tuple(value)
        elif "Limits" in hint:
            values[name] = Limits(**value)
        elif "WantPlan" in hint:
            values[name] = WantPlan.from_json(value)
        else:
            values[name] = value
    return IndexSettings(**values)


def write_settings_file(settings: IndexSettings, directory: Path) -> Path:
    """Write the settings (upload tokens included) readable by this user only; returns the file."""
    fd, name = tempfile.mkstemp(dir=directory, prefix="index-settings-", suffix=".json")
    with os.fdopen(fd, "w") as out:  # mkstemp creates the file with mode 0600
        out.write(settings_to_json(settings))
    return Path(name)


def create_app_from_environment() -> Any:
    """uvicorn's app factory in each worker: the app for the settings the CLI wrote."""
    from index_server.app import create_app

    name = os.environ.get(SETTINGS_ENV)
    if not name:
        raise SettingsFileError(f"{SETTINGS_ENV} is not set; start the index with `factory serve`")
    try:
        text = Path(name).read_text()
    except OSError as err:
        raise SettingsFileError(
            f"cannot read the index settings {name}: {err}; start it with `factory serve`"
        ) from None
    return create_app(settings_from_json(text))
