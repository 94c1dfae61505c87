"""`redis_client`: the one client factory, and FRONTDOOR_REDIS_URL's Redis Cluster form.

These need no cluster (tests/test_cluster.py runs everything on a real one): the URL form and its
errors, the choice of client, and a cluster that cannot be reached behaving like a Redis that is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
import redis.asyncio as aioredis
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.exceptions import DataError
from support.api import ANALYST_PREFIX, assert_error
from support.redisdb import count_round_trips

from frontdoor.cli import _safe
from frontdoor.errors import ConfigError
from frontdoor.storage.client import AutoPipeline, ClusterUrl, connect, parse_cluster_url
from support.servers import free_port
from frontdoor.settings import Settings


def test_cluster_url_form() -> None:
    assert parse_cluster_url("redis+cluster://10.0.0.1:7000,10.0.0.2:7001/") == ClusterUrl((("10.0.0.1", 7000), ("10.0.0.2", 7001)))
    assert parse_cluster_url("rediss+cluster://fd:p%40ss@redis-a.test:6380,[::1]:6381") == ClusterUrl(
        (("redis-a.test", 6380), ("::1", 6381)), "fd", "p@ss", True)
    assert parse_cluster_url("redis+cluster://:secret@r.test:7000/0").password == "secret"
    assert Settings.from_env({"FRONTDOOR_REDIS_URL": "redis+cluster://r.test:7000"}).redis_url == "redis+cluster://r.test:7000"


@pytest.mark.parametrize("url, says", [
    ("redis+cluster://r.test", "host:port"),
    ("redis+cluster://r.test:7000,r.test", "host:port"),
    ("redis+cluster://r.test:99999", "host:port"),
    ("redis+cluster://r.test:7000/2", "database 0"),
    ("redis+cluster://r.test:7000?ssl_cert_reqs=none", "query string"),
    ("redis+cluster://", "host:port"),
])
def test_bad_cluster_url_is_one_line_naming_the_setting(url: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"FRONTDOOR_REDIS_URL": url})
    assert info.value.message.startswith("FRONTDOOR_REDIS_URL") and says in info.value.message
    assert "\n" not in info.value.message


def test_bad_cluster_url_never_echoes_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"FRONTDOOR_REDIS_URL": "redis+cluster://fd:hunter2secret@r.test"})
    assert "hunter2secret" not in info.value.message
    assert _safe("redis+cluster://fd:hunter2secret@r.test:7000,r.test:7001") == "redis+cluster://***@r.test:7000,r.test:7001"


async def test_connect_picks_the_client_by_url(redis_url: str) -> None:
    single = connect(redis_url)
    cluster = connect("redis+cluster://127.0.0.1:7000")  # nothing connects until first use
    try:
        assert type(single) is aioredis.Redis and isinstance(cluster, aioredis.RedisCluster)
        assert await single.set("probe", "x") and await single.get("probe") == "x"  # str, not bytes
        await single.delete("probe")
    finally:
        await single.aclose()
        await cluster.aclose()


async def test_unreachable_cluster_is_a_connection_error() -> None:
    """redis-py says RedisClusterException; frontdoor treats "down" as ConnectionError everywhere."""
    client = connect(f"redis+cluster://127.0.0.1:{free_port()},127.0.0.1:{free_port()}")
    try:
        with pytest.raises(aioredis.ConnectionError, match="cannot be connected"):
            await client.ping()
    finally:
        await client.aclose()


async def test_app_with_the_cluster_down_starts_and_answers_503(aiohttp_client, settings):  # type: ignore[no-untyped-def]
    from frontdoor.app import create_app

    dead = ",".join(f"127.0.0.1:{free_port()}" for _ in range(2))  # nothing listens there
    client = await aiohttp_client(create_app(settings, f"redis+cluster://{dead}", housekeeping=False))
    assert (await client.get("/healthz")).status == 200
    await assert_error(await client.get("/readyz"), 503, "unavailable")
    resp = await client.post("/api/v1/reports", json={"category": "csam", "urls": ["https://example.com/page"]})
    await assert_error(resp, 503, "unavailable")
    await assert_error(await client.get("/api/v1/receipts/ABCDE-FGHJK"), 503, "unavailable")
    await assert_error(await client.post(f"{ANALYST_PREFIX}/claim", headers={"Authorization": "Bearer fdt_x"}), 503)


@contextlib.asynccontextmanager
async def hung_redis() -> AsyncIterator[str]:
    """A Redis that hangs: a TCP server that accepts connections, reads, and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        while await reader.read(4096):
            pass

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield f"redis://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_hung_redis_answers_503_within_the_request_deadline(aiohttp_client, settings):  # type: ignore[no-untyped-def]
    """No per-command socket timeout (redis_client.DEFAULTS): the request's deadline is what ends the wait."""
    from frontdoor.app import create_app

    async with hung_redis() as url:
        began = time.monotonic()
        client = await aiohttp_client(create_app(replace(settings, request_timeout_s=1), url, housekeeping=False))
        assert time.monotonic() - began < 3  # start-up's queue setup gives up after the deadline too
        assert (await client.get("/healthz")).status == 200
        token = "A" * 43  # well-formed: the handler gets as far as Redis
        for method, path, body in [("POST", "/api/v1/conversations", {}),
                                   ("POST", f"/api/v1/conversations/{token}/messages", {"text": "hello"}),
                                   ("POST", "/api/v1/reports", {"category": "csam", "urls": ["https://example.com/page"]})]:
            began = time.monotonic()
            resp = await client.request(method, path, json=body)
            elapsed = time.monotonic() - began
            await assert_error(resp, 503, "unavailable")
            assert resp.headers["Retry-After"] == "30"
            assert 0.9 <= elapsed < 3, (path, elapsed)
        began = time.monotonic()
        await assert_error(await client.get("/readyz"), 503, "unavailable")  # a probe's own, shorter bound
        assert time.monotonic() - began < 3


async def test_housekeeping_on_a_hung_redis_is_cut_short_and_carries_on(settings, monkeypatch, caplog):  # type: ignore[no-untyped-def]
    from frontdoor import app as app_module

    monkeypatch.setattr(app_module, "HOUSEKEEPING_INTERVAL_S", 0.0)
    monkeypatch.setattr(app_module, "HOUSEKEEPING_TIMEOUT_S", 0.2)
    async with hung_redis() as url:
        parts = app_module.build_parts(settings, url)
        task = asyncio.create_task(app_module._housekeeping(parts))
        await asyncio.sleep(0.7)
        assert not task.done()  # housekeeping never dies
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await parts.redis.aclose()
    assert sum("housekeeping cut short" in r.getMessage() for r in caplog.records) >= 2


# -- AutoPipeline: concurrent commands pipelined on a connection of its own ------------------------


async def test_concurrent_commands_share_one_write_and_each_gets_its_reply(redis, monkeypatch):  # type: ignore[no-untyped-def]
    pipelined = AutoPipeline(redis, timeout_s=5)
    sent = count_round_trips(monkeypatch)
    replies = await asyncio.gather(*(pipelined.execute_command("INCRBY", "counter", n) for n in range(1, 51)))
    assert sent[0] == 1  # fifty commands, one write
    assert len(set(replies)) == 50  # fifty different running totals: each caller its own reply
    assert await pipelined.execute_command("GET", "counter") == str(sum(range(1, 51))) == str(max(replies))  # alone
    assert sent[0] == 2
    await pipelined.aclose()


async def test_replies_are_handed_out_in_order_across_writes(redis):  # type: ignore[no-untyped-def]
    # Commands written in different passes of the loop, their replies still outstanding: Redis answers
    # in order and each caller must get its own.
    pipelined = AutoPipeline(redis, timeout_s=5)
    tasks = []
    for n in range(20):
        tasks.append(asyncio.ensure_future(pipelined.execute_command("ECHO", f"reply-{n}")))
        if n % 3 == 0:
            await asyncio.sleep(0)
    assert await asyncio.gather(*tasks) == [f"reply-{n}" for n in range(20)]
    await pipelined.aclose()


async def test_a_failing_command_fails_only_its_caller(redis):  # type: ignore[no-untyped-def]
    from redis.exceptions import ResponseError

    await redis.set("text", "not a number")
    pipelined = AutoPipeline(redis, timeout_s=5)
    results = await asyncio.gather(pipelined.execute_command("INCR", "text"), pipelined.execute_command("INCR", "n"),
                                   pipelined.execute_command("INCR", "n"), return_exceptions=True)
    assert isinstance(results[0], ResponseError) and sorted(results[1:]) == [1, 2]  # type: ignore[type-var]
    with pytest.raises(ResponseError):
        await pipelined.execute_command("INCR", "text")  # alone, too
    with pytest.raises(DataError):
        await pipelined.execute_command("SET", "k", None)  # refused before it is sent
    assert await pipelined.execute_command("INCR", "n") == 3  # and the connection carries on
    await pipelined.aclose()


async def test_a_caller_cancelled_meanwhile_leaves_the_others_their_replies(redis):  # type: ignore[no-untyped-def]
    pipelined = AutoPipeline(redis, timeout_s=5)
    doomed = asyncio.ensure_future(pipelined.execute_command("INCR", "n"))
    others = [asyncio.ensure_future(pipelined.execute_command("INCR", "n")) for _ in range(3)]
    await asyncio.sleep(0)
    doomed.cancel()
    assert sorted(await asyncio.gather(*others)) in ([1, 2, 3], [2, 3, 4])  # the cancelled one may have been sent
    with pytest.raises(asyncio.CancelledError):
        await doomed
    for _ in range(3):  # and once its command was written, cancelling its caller does not upset the order
        task = asyncio.ensure_future(pipelined.execute_command("INCR", "n"))
        after = asyncio.ensure_future(pipelined.execute_command("ECHO", "mine"))
        await asyncio.sleep(0)
        task.cancel()
        assert await after == "mine"
    await pipelined.aclose()


async def test_commands_on_a_hung_redis_fail_within_the_timeout():
    async with hung_redis() as url:
        client = connect(url)
        pipelined = AutoPipeline(client, timeout_s=0.3)
        began = time.monotonic()
        results = await asyncio.gather(*(pipelined.execute_command("PING") for _ in range(3)), return_exceptions=True)
        assert all(isinstance(r, TimeoutError) for r in results), results
        assert time.monotonic() - began < 3
        await client.aclose()


async def test_a_redis_that_stops_answering_fails_what_is_due_and_the_next_command_reconnects(redis_url):  # type: ignore[no-untyped-def]
    client = connect(redis_url)
    pipelined = AutoPipeline(client, timeout_s=0.3)
    assert await pipelined.execute_command("PING") == "PONG"
    admin = aioredis.Redis.from_url(redis_url, decode_responses=True)
    await admin.execute_command("CLIENT", "PAUSE", 800, "ALL")  # every other client's commands wait
    began = time.monotonic()
    results = await asyncio.gather(*(pipelined.execute_command("INCR", "paused") for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, TimeoutError) for r in results), results
    assert time.monotonic() - began < 0.7  # the watchdog, not the pause's end
    await admin.execute_command("CLIENT", "UNPAUSE")
    assert await pipelined.execute_command("ECHO", "again") == "again"  # a new connection
    await pipelined.aclose()
    await admin.aclose()
    await client.aclose()


async def test_a_connection_killed_under_it_fails_what_is_due_and_the_next_command_reconnects(redis_url, redis):  # type: ignore[no-untyped-def]
    client = connect(redis_url)
    pipelined = AutoPipeline(client, timeout_s=5)
    mine = await pipelined.execute_command("CLIENT", "ID")
    await redis.execute_command("CLIENT", "PAUSE", 300, "ALL")  # hold its next command while it is killed
    due = asyncio.ensure_future(pipelined.execute_command("ECHO", "lost"))
    await asyncio.sleep(0.05)
    await redis.execute_command("CLIENT", "KILL", "ID", mine)
    with pytest.raises(aioredis.ConnectionError):
        await due
    assert await pipelined.execute_command("ECHO", "again") == "again"
    assert await pipelined.execute_command("CLIENT", "ID") != mine
    await pipelined.aclose()
    await client.aclose()


async def test_a_connection_idle_a_while_is_checked_again_through_the_pool(redis_url, redis, monkeypatch):  # type: ignore[no-untyped-def]
    # Redis (or a proxy) may close an idle connection; the next command must not be written to it.
    monkeypatch.setattr(AutoPipeline, "IDLE_RECHECK_S", 0.05)
    client = connect(redis_url)
    pipelined = AutoPipeline(client, timeout_s=5)
    mine = await pipelined.execute_command("CLIENT", "ID")
    await redis.execute_command("CLIENT", "KILL", "ID", mine)
    await asyncio.sleep(0.1)
    assert await pipelined.execute_command("ECHO", "fine") == "fine"
    await pipelined.aclose()
    pool = client.connection_pool
    await asyncio.sleep(0)
    assert not pool._in_use_connections  # aclose gave the connection back
    await client.aclose()


async def test_the_others_go_on_when_the_first_caller_is_cancelled_while_connecting(redis):  # type: ignore[no-untyped-def]
    pipelined = AutoPipeline(redis, timeout_s=5)
    tasks = [asyncio.ensure_future(pipelined.execute_command("INCR", "n")) for _ in range(4)]
    await asyncio.sleep(0)  # the first starts taking a connection; the other three wait for it too
    tasks[0].cancel()
    assert sorted(await asyncio.gather(*tasks[1:])) == [1, 2, 3]
    with pytest.raises(asyncio.CancelledError):
        await tasks[0]
    assert await redis.get("n") == "3"  # the first one's command was never sent
    await pipelined.aclose()


@given(st.lists(st.one_of(st.text(max_size=20), st.binary(max_size=20), st.integers(), st.floats(allow_nan=False)),
                max_size=8))
@settings(max_examples=200)
def test_commands_are_packed_by_hiredis_into_the_same_bytes(args: list[Any]) -> None:
    """connect() gives single-node clients hiredis's packer (redis_client._HiredisPacker): the wire
    bytes must be redis-py's own, and a value of the wrong type the same DataError."""
    from redis.asyncio.connection import Connection

    client = connect("redis://127.0.0.1:1/0")
    ours = client.connection_pool.make_connection()
    assert type(ours).__name__ == "HiredisConnection"
    command = ("EVALSHA", *args)
    assert b"".join(ours.pack_command(*command)) == b"".join(Connection().pack_command(*command))
    for wrong in (True, None):
        with pytest.raises(DataError):
            ours.pack_command("SET", "k", wrong)
