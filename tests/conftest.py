"""Shared by every test folder: `spec_builders` on sys.path, and the three test tiers.

Tiers (README, "Tests"): `unit` (no network, no servers, no installs), `integration` (real servers and
clients on loopback, the tiny fixture built with the real toolkit), `slow` (real package builds). A test
is `slow` or `integration` when it says so, or when it uses a fixture below that starts a server, runs an
installer or builds the fixture; every other test is `unit`, and a unit test that opens a network socket
fails at once with the name of the address it tried.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

# Fixtures whose use makes a test an integration test (they live in tests/index and tests/stages).
INTEGRATION_FIXTURES = frozenset(
    {
        "upstream",  # a static file server standing in for PyPI
        "index",  # the index server, with uploads by the real CLI
        "uv",
        "poetry",  # installed from PyPI
        "venv_torch29",
        "venv_torch214",  # venvs filled by pip from the servers
        "fixture_sdists",
        "build_cache",
        "fixture_build",  # the tiny CUDA extension built with nvcc and repaired with auditwheel
    }
)


def tier_of(item: pytest.Item) -> str:
    if item.get_closest_marker("slow"):
        return "slow"
    if item.get_closest_marker("integration") or INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ())):
        return "integration"
    return "unit"


TIERS = ("unit", "integration", "slow")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = tier_of(item)
        if not item.get_closest_marker(tier):
            item.add_marker(getattr(pytest.mark, tier))
        marked = [t for t in TIERS if item.get_closest_marker(t)]
        if marked != [tier]:
            raise pytest.UsageError(f"{item.nodeid} is marked {' and '.join(marked)}: a test belongs to one tier")


class NetworkInUnitTest(AssertionError):
    pass


def _refuse(what: str) -> NetworkInUnitTest:
    return NetworkInUnitTest(
        f"a unit test reached for the network ({what}): use a fake transport, or make it an integration "
        "test (tests/conftest.py explains the tiers)"
    )


def _guard_socket_method(original: Any) -> Any:
    def guarded(self: socket.socket, address: Any, *args: Any) -> Any:
        if self.family == socket.AF_UNIX:
            return original(self, address, *args)
        raise _refuse(f"{original.__name__} {address!r}")

    return guarded


def _guarded_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    raise _refuse(f"name lookup {host!r}:{port!r}")


@pytest.fixture(autouse=True)
def _no_network_in_unit_tests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Unit tests may not look names up, connect, bind or listen on IP sockets (unix sockets are fine);
    child processes they start get a proxy that does not exist, so pip, uv or curl cannot reach out either."""
    if request.node.get_closest_marker("unit") is None:
        yield
        return
    for name in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, name, _guard_socket_method(getattr(socket.socket, name)))
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(var, "http://unit-tests-have-no-network.invalid:9")
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    yield
