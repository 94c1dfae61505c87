"""The network guard (tests/support/network_guard.py): non-loopback refused at once, loopback let through."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import network_guard

TESTS = Path(__file__).resolve().parent

TEST_NET_1 = "192.0.2.1"  # RFC 5737: documentation only, never routed


def test_the_guard_is_installed_and_on() -> None:
    assert network_guard._installed and network_guard.ENABLED


@pytest.mark.parametrize("connect", ["connect", "connect_ex"])
def test_a_non_loopback_address_is_refused_at_once_and_named(connect: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        started = time.monotonic()
        with pytest.raises(network_guard.NetworkGuardError, match=r"192\.0\.2\.1.*80"):
            getattr(sock, connect)((TEST_NET_1, 80))
        assert time.monotonic() - started < 0.5  # refused before any packet, not timed out
    assert network_guard.take_blocked() == [f"socket.connect ('{TEST_NET_1}', 80)"]  # expected: not a failure


def test_host_names_ipv6_and_datagrams_are_guarded_too() -> None:
    with pytest.raises(network_guard.NetworkGuardError, match="example.com"):  # before its DNS query
        socket.create_connection(("example.com", 443), timeout=5)
    assert socket.getaddrinfo("localhost", 80) and socket.getaddrinfo(TEST_NET_1, 80)  # no DNS server asked
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, pytest.raises(network_guard.NetworkGuardError):
        sock.sendto(b"x", (TEST_NET_1, 53))
    if socket.has_ipv6:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock, pytest.raises(network_guard.NetworkGuardError):
            sock.connect(("2001:db8::1", 80))  # RFC 3849 documentation prefix
    assert len(network_guard.take_blocked()) == 2 + socket.has_ipv6


async def test_asyncio_connections_are_refused_too() -> None:
    with pytest.raises(network_guard.NetworkGuardError):
        await asyncio.wait_for(asyncio.open_connection(TEST_NET_1, 80), 5)
    assert network_guard.take_blocked() == [f"socket.connect ('{TEST_NET_1}', 80)"]


def test_loopback_is_allowed() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        for host in ("127.0.0.1", "localhost", "127.0.0.2"):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.settimeout(5)
                assert sock.connect_ex((host, port)) in (0, 111), host  # 127.0.0.2 may refuse; the guard does not
    assert network_guard.is_loopback(("::1", 1, 0, 0)) and network_guard.is_loopback(("::ffff:127.0.0.1", 1))
    assert not network_guard.is_loopback(("10.0.0.1", 1)) and not network_guard.is_loopback(("0.0.0.0", 1))
    assert network_guard.take_blocked() == []


def test_unix_sockets_are_allowed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "s")
    with socket.socket(socket.AF_UNIX) as server, socket.socket(socket.AF_UNIX) as client:
        server.bind(path)
        server.listen()
        client.connect(path)
    assert network_guard.take_blocked() == []


def test_relaxed_turns_the_checks_off_and_back_on() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)  # TEST-NET-1 never answers: start the connect, do not wait for it
        with network_guard.relaxed():
            assert not network_guard.ENABLED
            assert sock.connect_ex((TEST_NET_1, 80)) != 0  # EINPROGRESS or ENETUNREACH: the OS's answer, not ours
    assert network_guard.ENABLED and network_guard.take_blocked() == []
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(network_guard.NetworkGuardError):
        sock.connect((TEST_NET_1, 80))
    network_guard.take_blocked()


def test_a_refusal_fails_the_test_even_when_caught(tmp_path: Path) -> None:
    # A pytest run of its own with this suite's hooks (tests/conftest.py loaded under another name).
    (tmp_path / "conftest.py").write_text(f"""
import importlib.util, sys
sys.path.insert(0, {str(TESTS)!r})
spec = importlib.util.spec_from_file_location("suite_conftest", {str(TESTS / "conftest.py")!r})
suite = importlib.util.module_from_spec(spec)
spec.loader.exec_module(suite)
pytest_configure, _only_loopback, pytest_sessionfinish = suite.pytest_configure, suite._only_loopback, suite.pytest_sessionfinish
""")
    (tmp_path / "test_swallowed.py").write_text(f"""
import socket

def test_swallows_the_guards_error():
    try:
        socket.create_connection(({TEST_NET_1!r}, 80), timeout=5)
    except Exception:
        pass
""")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", str(tmp_path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), os.environ.get("PYTHONPATH", "")])})
    assert run.returncode == 1, run.stdout + run.stderr
    assert "reached for non-loopback addresses" in run.stdout and TEST_NET_1 in run.stdout, run.stdout
