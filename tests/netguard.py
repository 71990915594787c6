"""A pytest plugin that fails any test reaching for a host other than this machine.

The suite talks only to its fakes and databases on the loopback interface. A
connection (TCP or UDP, `connect`, `connect_ex`, `sendto`) to another address, or a
name look-up of another host (`getaddrinfo`, which asyncio, aiohttp, httpx and
asyncpg all go through), is refused with an OSError, as a machine without a network
would, and recorded. The record fails the test in whichever phase it happened, even
when the code under test caught the error and went on.

Processes that a test starts (`python -m bot run`) are not covered.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_sendto = socket.socket.sendto
_real_getaddrinfo = socket.getaddrinfo
_violations: list[str] = []
_installed = 0


class NonLoopbackAccess(ConnectionRefusedError):
    """Raised where a test reached for another machine."""


def is_loopback(host: object) -> bool:
    """Whether `host` (a name, an address, or None for a passive look-up) is this machine."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").split("%", 1)[0].lower().rstrip(".")
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def _refuse(what: str) -> NonLoopbackAccess:
    _violations.append(what)
    return NonLoopbackAccess(f"tests may reach only this machine, not {what}")


def _check(sock: socket.socket, address: object, verb: str) -> None:
    inet = sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple)
    if inet and not is_loopback(address[0]):
        raise _refuse(f"{verb} {address[0]!r} port {address[1]!r}")


def _connect(self: socket.socket, address):
    _check(self, address, "connect to")
    return _real_connect(self, address)


def _connect_ex(self: socket.socket, address):
    _check(self, address, "connect to")
    return _real_connect_ex(self, address)


def _sendto(self: socket.socket, data, *rest):
    _check(self, rest[-1] if rest else None, "send to")
    return _real_sendto(self, data, *rest)


def _getaddrinfo(host, *args, **kwargs):
    if not is_loopback(host):
        raise _refuse(f"look up {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    global _installed
    _installed += 1
    socket.socket.connect = _connect
    socket.socket.connect_ex = _connect_ex
    socket.socket.sendto = _sendto
    socket.getaddrinfo = _getaddrinfo


def pytest_unconfigure(config: pytest.Config) -> None:
    global _installed
    _installed -= 1
    if _installed == 0:  # an inner pytest run (pytester) leaves the outer guard in place
        socket.socket.connect = _real_connect
        socket.socket.connect_ex = _real_connect_ex
        socket.socket.sendto = _real_sendto
        socket.getaddrinfo = _real_getaddrinfo


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    if not _violations:
        return
    found, _violations[:] = _violations[:], []
    report = outcome.get_result()
    report.outcome = "failed"
    report.longrepr = f"{item.nodeid} reached beyond the loopback ({call.when}): " + "; ".join(
        found
    )
