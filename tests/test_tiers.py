"""The unit tier's network guard (tests/conftest.py) refuses what it promises to refuse."""

import socket
import subprocess
import sys

import pytest


def test_unit_tests_cannot_connect_bind_or_look_names_up() -> None:
    with pytest.raises(AssertionError, match="reached for the network"):
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    with socket.socket() as s, pytest.raises(AssertionError, match="reached for the network"):
        s.bind(("127.0.0.1", 0))
    with pytest.raises(AssertionError, match="reached for the network"):
        socket.getaddrinfo("pypi.org", 443)


def test_unit_tests_child_processes_get_an_unreachable_proxy() -> None:
    code = "import os, urllib.request; print(urllib.request.getproxies()['https'])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "http://unit-tests-have-no-network.invalid:9"


def test_unix_sockets_stay_allowed() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b"x")
        assert b.recv(1) == b"x"
