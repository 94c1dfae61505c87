"""No test reaches past this machine: a connection to a non-loopback address fails loudly.

`install()` (called from tests/conftest.py's pytest_configure) adds a `sys.addaudithook` hook
that watches the `socket.connect` event (raised by connect and connect_ex, so by asyncio's and
redis-py's connections too) and `socket.sendto` (a datagram needs no connect). An AF_INET or
AF_INET6 address must be loopback: 127.0.0.0/8, ::1 (or ::ffff:127.x.x.x), or the name
'localhost'; any other address, a host name included, raises NetworkGuardError naming it before
the packet leaves. AF_UNIX paths and other local families (netlink, ...) are allowed.
`socket.getaddrinfo` is watched too, so a host name is refused before its DNS query (asyncio and
socket.create_connection resolve through it): IP literals, 'localhost' and this machine's own
name may be looked up, nothing else. Not covered: the resolution socket.connect does itself for a
host name (it happens before the event, so the query may leave, though the connect is refused)
and gethostbyname/gethostbyaddr (socket.getfqdn, which smtplib and aiosmtpd ask).
NetworkGuardError is not an OSError on purpose, so no `except OSError` retry loop takes it for a
refused connection; and since `except Exception` could still swallow it, every refusal is also
recorded in `blocked`, and tests/conftest.py fails the test during which one was recorded.

In-process only: subprocesses the tests start (redis-server, `python -m frontdoor` ...) are not
guarded; a Python child would need this hook installed itself (e.g. through a sitecustomize on
its PYTHONPATH), which the suite does not do.

Audit hooks cannot be removed, so the hook stays for the rest of the process; `ENABLED` (or the
`relaxed()` context manager) turns its checks off, for tests/test_network_guard.py which proves
both sides.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ENABLED = True
blocked: list[str] = []  # every refusal, "event address", until take_blocked() collects them
_installed = False
_INET = (socket.AF_INET, socket.AF_INET6)
_OWN_NAME = socket.gethostname().lower()


class NetworkGuardError(RuntimeError):
    """A test tried to reach a non-loopback address (tests/support/network_guard.py)."""


def is_loopback(address: Any) -> bool:
    """Whether an AF_INET/AF_INET6 address tuple (host, port[, flowinfo, scope_id]) stays on this machine."""
    if not isinstance(address, tuple) or not address:
        return False
    host = address[0]
    if isinstance(host, (bytes, bytearray)):
        host = bytes(host).decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    host = host.split("%", 1)[0]  # an IPv6 scope: fe80::1%eth0
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False  # a host name other than localhost: resolving it and connecting would leave the machine
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def may_look_up(host: Any) -> bool:
    """Whether getaddrinfo may resolve this host without asking a DNS server: no host, an IP literal
    (the connect that follows is checked), localhost, or this machine's own name."""
    if host is None:
        return True
    if isinstance(host, (bytes, bytearray)):
        host = bytes(host).decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.split("%", 1)[0].lower().rstrip(".")
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return name in ("", "localhost", "localhost.localdomain", _OWN_NAME)


def _refuse(event: str, address: Any) -> None:
    blocked.append(f"{event} {address!r}")
    raise NetworkGuardError(f"tests may only reach loopback addresses, not {address!r} ({event}); "
                            "see tests/support/network_guard.py")


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not event.startswith("socket.") or not ENABLED:
        return
    if event == "socket.connect" or event == "socket.sendto":
        sock, address = args[0], args[1]
        if getattr(sock, "family", None) in _INET and not is_loopback(address):
            _refuse(event, address)
    elif event == "socket.getaddrinfo" and not may_look_up(args[0]):
        _refuse(event, (args[0], args[1]))


def install() -> None:
    """Add the hook once per process (audit hooks cannot be removed)."""
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True


def take_blocked() -> list[str]:
    """The refusals recorded since the last call, and forget them."""
    taken = blocked[:]
    del blocked[: len(taken)]
    return taken


@contextmanager
def relaxed() -> Iterator[None]:
    """Let connections through for a while (the hook itself stays installed)."""
    global ENABLED
    before, ENABLED = ENABLED, False
    try:
        yield
    finally:
        ENABLED = before
