"""A client sending its request head a byte at a time: how long `frontdoor serve` lets it hold a
connection (FRONTDOOR_HEADER_TIMEOUT_SECONDS, through aiohttp's keepalive_timeout: cli.py), and how
long the shipped nginx (deploy/nginx.conf) does in front of it, while normal requests pass.

nginx runs for real: Debian's `nginx`, which `make test` installs; a missing one fails these tests.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support.servers import free_port
from support.slowloris import adapted_nginx_conf, dribble, frontdoor_serve, nginx_binary, request, running

REPORT = {"category": "csam", "urls": ["https://example.com/page"]}
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: frontdoor.test\r\n\r\n"


def test_the_bare_server_closes_a_dribbling_head_after_the_header_timeout(tmp_path: Path) -> None:
    with frontdoor_serve(tmp_path, HEADER_TIMEOUT_SECONDS="2") as port:
        with ThreadPoolExecutor(3) as pool:
            slow = [pool.submit(dribble, port), pool.submit(dribble, port, first=HEALTHZ)]
            # Meanwhile everyone else is served as usual.
            assert request(port, "POST", "/api/v1/reports", REPORT)[0] == 201
            assert request(port, "GET", "/healthz") == (200, {"status": "ok"})
            held = [f.result() for f in slow]
    # From its start, and on a kept-alive connection from its last answer: the deadline, not before.
    assert all(1.5 <= s <= 4.0 for s in held), held


@pytest.fixture
def nginx(repo_root: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """`frontdoor serve` trusting X-Forwarded-For behind the shipped nginx, the header timeout cut
    to 2 s for the test; nginx's port."""
    binary = nginx_binary()
    if binary is None:
        pytest.fail("nginx is missing: `make test` installs it (apt-get install nginx), and the shipped "
                    "deploy/nginx.conf must be run, not skipped")
    app_dir, proxy_dir = tmp_path / "app", tmp_path / "nginx"
    app_dir.mkdir()
    proxy_dir.mkdir()
    with frontdoor_serve(app_dir, TRUST_FORWARDED_FOR="1", RATE_RECEIPTS_PER_MINUTE="3") as app_port:
        port = free_port()
        conf = adapted_nginx_conf((repo_root / "deploy/nginx.conf").read_text(), proxy_dir, port=port, app_port=app_port,
                                  header_timeout_s=2)
        checked = subprocess.run([binary, "-t", "-e", "stderr", "-p", str(proxy_dir), "-c", str(conf)],
                                 capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        argv = [binary, "-e", "stderr", "-p", str(proxy_dir), "-c", str(conf), "-g", "daemon off;"]
        with running(argv, port, cwd=proxy_dir):
            yield port


def test_nginx_passes_reports_and_answers_its_own_refusals_as_json(nginx: int) -> None:
    status, body = request(nginx, "POST", "/api/v1/reports", REPORT)
    assert status == 201, body
    assert request(nginx, "GET", f"/api/v1/receipts/{body['receipt']}") == (200, {"status": "received"})
    status, body = request(nginx, "POST", "/api/v1/reports", {"description": "x" * 2_000_000})
    assert status == 413 and set(body) == {"error", "message"}, body  # nginx's cap, in the app's shape


def test_nginx_cuts_a_slowloris_off_after_its_header_timeout(nginx: int) -> None:
    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(dribble, nginx)
        assert request(nginx, "GET", "/healthz") == (200, {"status": "ok"})
        held = slow.result()
    assert 1.5 <= held <= 4.0, held


def test_behind_nginx_what_a_client_writes_in_x_forwarded_for_changes_nothing(nginx: int) -> None:
    # nginx replaces the header with the address it saw: every forged value is still this one client.
    statuses = [request(nginx, "GET", "/api/v1/receipts/ABCDE-FGHJK", headers={"X-Forwarded-For": f"198.51.100.{i}"})[0]
                for i in range(1, 6)]
    assert statuses == [404, 404, 404, 429, 429]
