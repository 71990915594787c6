"""The loopback guard (tests/netguard.py) fails a test that reaches for another machine,
even when the test swallows the error; loopback stays open.

The inner tests run in a pytest session of their own (pytester). Beneath the guard,
the real `connect` and `getaddrinfo` are replaced by stand-ins that never leave the
machine, so even a broken guard sends nothing out."""

from __future__ import annotations

import socket

import pytest

from tests import netguard

INNER = """
import asyncio
import socket


def test_a_swallowed_connection_elsewhere():
    try:
        socket.socket().connect(("192.0.2.1", 9))
    except Exception:
        pass


def test_a_swallowed_look_up_of_another_host():
    try:
        socket.getaddrinfo("example.org", 443)
    except Exception:
        pass


def test_an_asyncio_connection_elsewhere():
    async def connect():
        try:
            await asyncio.open_connection("198.51.100.7", 80)
        except OSError:
            pass

    asyncio.run(connect())


def test_loopback_is_open():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        for host in ("127.0.0.1", "localhost"):
            with socket.create_connection((host, port), timeout=5):
                pass
"""


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("api.localhost", True),
        (None, True),
        ("0.0.0.0", True),
        ("10.0.0.1", False),
        ("192.168.1.1", False),
        ("8.8.8.8", False),
        ("::ffff:8.8.8.8", False),
        ("api.telegram.org", False),
        ("localhost.example.org", False),
    ],
)
def test_what_counts_as_this_machine(host, local):
    assert netguard.is_loopback(host) is local


def test_the_guard_fails_tests_that_reach_another_machine(pytester, monkeypatch):
    beneath: list[object] = []
    real_connect, real_getaddrinfo = netguard._real_connect, netguard._real_getaddrinfo

    def connect(sock, address):
        beneath.append(address)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not netguard.is_loopback(
            address[0]
        ):
            raise ConnectionRefusedError("stand-in: never sent")
        return real_connect(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        beneath.append(host)
        if not netguard.is_loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, "stand-in: never looked up")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(netguard, "_real_connect", connect)
    monkeypatch.setattr(netguard, "_real_getaddrinfo", getaddrinfo)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_inprocess("-p", "tests.netguard", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines(
        [
            "*test_a_swallowed_connection_elsewhere reached beyond the loopback (call): "
            "connect to '192.0.2.1' port 9",
            "*test_a_swallowed_look_up_of_another_host reached beyond the loopback (call): "
            "look up 'example.org'",
            "*test_an_asyncio_connection_elsewhere reached beyond the loopback (call): "
            "connect to '198.51.100.7' port 80",
        ]
    )
    # The guard stopped each one before the real call; loopback went through.
    assert all(netguard.is_loopback(h if isinstance(h, str) else h[0]) for h in beneath)
    assert any(isinstance(h, tuple) and h[0] == "127.0.0.1" for h in beneath)
    # The outer session is still guarded after the inner one ended.
    assert socket.socket.connect is netguard._connect
    assert socket.getaddrinfo is netguard._getaddrinfo
