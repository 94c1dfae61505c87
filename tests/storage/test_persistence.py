"""The start-up check: a Redis that keeps nothing on disk is refused, unless the operator allows it.

Each test starts a redis-server of its own, configured as the case needs (AOF, snapshots only,
nothing, CONFIG disabled as a managed Redis may have it); the session's test servers keep nothing.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from frontdoor.app import create_app
from frontdoor.errors import ConfigError
from frontdoor.storage.client import connect
from frontdoor.storage.persistence import check_persistence
from support.servers import free_port

NO_CONFIG = ("--rename-command", "CONFIG", "")  # as a managed Redis may refuse it


def persistence_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "frontdoor.storage.persistence"]


@pytest.mark.parametrize("workers", ["1", "2"])  # one process, or the supervisor before any worker starts
def test_serve_refuses_a_redis_that_keeps_nothing_and_says_how_to_allow_it(tmp_path: Path, start_redis, workers) -> None:
    volatile = start_redis(persist=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDOOR_")}
    env.update(FRONTDOOR_REDIS_URL=volatile.url, FRONTDOOR_DATA_DIR=str(tmp_path / "data"), FRONTDOOR_SMTP_PORT="0")
    result = subprocess.run([sys.executable, "-m", "frontdoor", "serve", "--port", str(free_port()), "--workers", workers],
                            env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("frontdoor: Redis keeps nothing on disk")
    assert "FRONTDOOR_ALLOW_VOLATILE_REDIS=1" in result.stderr
    assert "Traceback" not in result.stderr and "listening" not in result.stdout  # refused before serving
    assert result.stderr.count("keeps nothing on disk") == 1 and "worker started" not in result.stderr


@pytest.mark.parametrize("persist, extra, logged", [
    (True, (), "redis persistence: aof everysec"),
    (False, ("--save", "3600 1 300 100"), "redis persistence: rdb save 3600 1 300 100"),
    (True, ("--save", "900 1"), "redis persistence: aof everysec + rdb save 900 1"),
])
async def test_the_app_starts_on_a_redis_with_aof_or_snapshots_and_logs_it_once(
        aiohttp_client, settings, start_redis, caplog, persist, extra, logged) -> None:  # type: ignore[no-untyped-def]
    server = start_redis(persist=persist, extra=extra)
    caplog.set_level(logging.INFO)
    client = await aiohttp_client(create_app(replace(settings, allow_volatile_redis=False), server.url,
                                             housekeeping=False))
    assert (await client.get("/readyz")).status == 200
    assert persistence_lines(caplog) == [logged]


async def test_the_app_refuses_a_volatile_redis_unless_allowed(aiohttp_client, settings, start_redis, caplog) -> None:  # type: ignore[no-untyped-def]
    server = start_redis(persist=False)
    with pytest.raises(ConfigError, match="FRONTDOOR_ALLOW_VOLATILE_REDIS"):
        await aiohttp_client(create_app(replace(settings, allow_volatile_redis=False), server.url, housekeeping=False))
    caplog.set_level(logging.INFO)
    client = await aiohttp_client(create_app(settings, server.url, housekeeping=False))  # the fixture allows it
    assert (await client.post("/api/v1/reports", json={"category": "csam", "urls": ["https://example.com/v"]})).status == 201
    assert persistence_lines(caplog) == ["redis persistence: none (allowed by FRONTDOOR_ALLOW_VOLATILE_REDIS)"]


@pytest.mark.parametrize("persist, logged, level", [
    (True, "redis persistence: aof (as INFO says; CONFIG refused)", logging.INFO),
    (False, "redis persistence cannot be verified: unknown (CONFIG refused; INFO shows no AOF and no snapshot yet); "
            "check that the service keeps its data", logging.WARNING),
])
async def test_without_config_info_tells_or_start_up_says_it_cannot_verify(start_redis, caplog, persist, logged, level) -> None:  # type: ignore[no-untyped-def]
    server = start_redis(persist=persist, extra=NO_CONFIG)
    client = connect(server.url)
    caplog.set_level(logging.INFO)
    try:
        await check_persistence(client, allow_volatile=False)  # never refused: it cannot tell
    finally:
        await client.aclose()
    assert [(r.getMessage(), r.levelno) for r in caplog.records if r.name.endswith("persistence")] == [(logged, level)]


async def test_every_node_of_a_cluster_is_checked(redis_cluster, cluster_redis, caplog) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as refused:
        await check_persistence(cluster_redis, allow_volatile=False)
    nodes = [f"127.0.0.1:{node.port}" for node in redis_cluster.nodes]
    assert all(node in refused.value.message for node in nodes), refused.value.message
    caplog.set_level(logging.INFO)
    await check_persistence(cluster_redis, allow_volatile=True)
    assert persistence_lines(caplog) == [
        f"redis persistence: none (allowed by FRONTDOOR_ALLOW_VOLATILE_REDIS) (each of {len(nodes)} nodes)"]
