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
from redis.exceptions import DataError
from support.api import ANALYST_PREFIX, assert_error
from support.redisdb import count_round_trips

from frontdoor.serve import safe_url as _safe
from frontdoor.errors import ConfigError
from frontdoor.storage.client import COMMAND_TIMEOUT_S, DEFAULTS, AutoPipeline, ClusterUrl, connect, parse_cluster_url
from frontdoor.storage.server import RedisServer, find_binaries
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
    """The request's deadline (1 s here) ends the wait before the per-command socket timeout (5 s) would."""
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


# -- the per-command socket timeout ----------------------------------------------------------------


async def test_every_client_gives_up_on_a_hung_redis_after_the_command_timeout() -> None:
    """A task with no deadline of its own (the outbox sender, a CLI command) must not wait for ever."""
    assert DEFAULTS["socket_timeout"] == COMMAND_TIMEOUT_S == 5
    async with hung_redis() as url:
        client = connect(url)
        began = time.monotonic()
        async with asyncio.timeout(COMMAND_TIMEOUT_S + 5):  # the test's own guard: fails instead of hanging
            with pytest.raises(aioredis.TimeoutError):
                await client.get("k")
        assert COMMAND_TIMEOUT_S - 0.5 <= time.monotonic() - began < COMMAND_TIMEOUT_S + 2
        await client.aclose()
        shorter = connect(url, socket_timeout=0.3)  # callers may override it
        began = time.monotonic()
        with pytest.raises(aioredis.TimeoutError):
            await shorter.get("k")
        assert time.monotonic() - began < 2
        await shorter.aclose()
    cluster = connect("redis+cluster://127.0.0.1:7000")  # nothing connects until first use
    assert cluster.get_connection_kwargs()["socket_timeout"] == COMMAND_TIMEOUT_S
    await cluster.aclose()


# -- AutoPipeline: the commands of one pass of the event loop as one redis-py pipeline ---------------


async def test_concurrent_commands_share_one_write_and_each_gets_its_reply(redis, monkeypatch):  # type: ignore[no-untyped-def]
    pipelined = AutoPipeline(connect_like(redis), timeout_s=5)
    sent = count_round_trips(monkeypatch)
    replies = await asyncio.gather(*(pipelined.execute_command("INCRBY", "counter", n) for n in range(1, 51)))
    assert sent[0] == 1  # fifty commands, one write
    assert len(set(replies)) == 50  # fifty different running totals: each caller its own reply
    assert await pipelined.execute_command("GET", "counter") == str(sum(range(1, 51))) == str(max(replies))  # alone
    assert sent[0] == 2
    await pipelined.aclose()
    await pipelined.client.aclose()


async def reads_processed(admin: aioredis.Redis) -> int:
    """How many reads from its clients' sockets Redis has done, this INFO's own excluded."""
    return int((await admin.info("stats"))["total_reads_processed"]) - 1


async def test_redis_itself_sees_a_batch_arrive_in_one_read(redis, redis_url):  # type: ignore[no-untyped-def]
    """The same count as above, from the server's side: no patching of redis-py at all."""
    client = connect(redis_url)
    pipelined = AutoPipeline(client, timeout_s=5)

    async def fifty(execute: Any) -> None:
        replies = await asyncio.gather(*(execute("ECHO", f"r{n}") for n in range(50)))
        assert replies == [f"r{n}" for n in range(50)]

    for execute in (pipelined.execute_command, client.execute_command):
        await fifty(execute)  # connections made (their set-up commands are reads too)
    before = await reads_processed(redis)
    await fifty(pipelined.execute_command)
    batched = await reads_processed(redis) - before
    before = await reads_processed(redis)
    await fifty(client.execute_command)  # the same fifty, each alone on a connection of the pool's
    alone = await reads_processed(redis) - before
    assert batched <= 2 and alone >= 40, (batched, alone)
    await pipelined.aclose()
    await client.aclose()


async def test_replies_are_handed_out_in_order_across_writes(redis):  # type: ignore[no-untyped-def]
    # Commands queued in different passes of the loop, some batches still unanswered when the next
    # goes: each caller must get its own reply.
    pipelined = AutoPipeline(redis, timeout_s=5)
    tasks = []
    for n in range(20):
        tasks.append(asyncio.ensure_future(pipelined.execute_command("ECHO", f"reply-{n}")))
        if n % 3 == 0:
            await asyncio.sleep(0)
    assert await asyncio.gather(*tasks) == [f"reply-{n}" for n in range(20)]
    await pipelined.aclose()


async def test_a_failing_command_fails_only_its_caller(redis, monkeypatch):  # type: ignore[no-untyped-def]
    from redis.exceptions import NoScriptError, ResponseError

    await redis.set("text", "not a number")
    pipelined = AutoPipeline(redis, timeout_s=5)
    sent = count_round_trips(monkeypatch)
    results = await asyncio.gather(pipelined.execute_command("INCR", "n"), pipelined.execute_command("INCR", "text"),
                                   pipelined.execute_command("INCR", "n"), pipelined.execute_command("SET", "k", None),
                                   pipelined.execute_command("EVALSHA", "0" * 40, 0),
                                   pipelined.execute_command("INCR", "n"), return_exceptions=True)
    assert sent[0] == 1  # one batch for the five that could be sent
    assert [results[0], results[2], results[5]] == [1, 2, 3]
    assert type(results[1]) is ResponseError and "not an integer" in str(results[1])
    assert isinstance(results[3], DataError)  # refused before it joined the batch
    assert isinstance(results[4], NoScriptError)  # what storage.scripts.Script falls back on
    assert await redis.exists("k") == 0
    with pytest.raises(ResponseError):
        await pipelined.execute_command("INCR", "text")  # alone, too
    with pytest.raises(DataError):
        await pipelined.execute_command("SET", "k", True)
    assert await pipelined.execute_command("INCR", "n") == 4  # and it carries on
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
    for _ in range(3):  # a caller cancelled while its batch is on its way: the others still get theirs
        task = asyncio.ensure_future(pipelined.execute_command("INCR", "n"))
        after = asyncio.ensure_future(pipelined.execute_command("ECHO", "mine"))
        await asyncio.sleep(0)
        task.cancel()
        assert await after == "mine"
    await pipelined.aclose()


async def test_the_others_go_on_when_the_first_caller_is_cancelled_while_they_join(redis):  # type: ignore[no-untyped-def]
    pipelined = AutoPipeline(redis, timeout_s=5)
    tasks = [asyncio.ensure_future(pipelined.execute_command("INCR", "n")) for _ in range(4)]
    await asyncio.sleep(0)  # the first waits a pass for others to join; the other three do
    tasks[0].cancel()
    assert sorted(await asyncio.gather(*tasks[1:])) == [1, 2, 3]
    with pytest.raises(asyncio.CancelledError):
        await tasks[0]
    assert await redis.get("n") == "3"  # the first one's command was never sent
    await pipelined.aclose()


async def test_commands_on_a_hung_redis_fail_within_the_timeout():
    async with hung_redis() as url:
        client = connect(url)
        pipelined = AutoPipeline(client, timeout_s=0.3)
        for callers in (3, 1):  # a batch, and a command alone
            began = time.monotonic()
            results = await asyncio.gather(*(pipelined.execute_command("PING") for _ in range(callers)),
                                           return_exceptions=True)
            # redis-py's TimeoutError, as a socket timeout gives: UNAVAILABLE (503), not a request's deadline
            assert all(type(r) is aioredis.TimeoutError for r in results), results
            assert time.monotonic() - began < 1
        await client.aclose()


async def test_a_callers_own_deadline_stays_its_own(redis_url, redis):  # type: ignore[no-untyped-def]
    """A deadline around the call (a request's) passing first is the builtin TimeoutError the HTTP
    layer logs as "deadline passed", not Redis's TimeoutError."""
    client = connect(redis_url)
    pipelined = AutoPipeline(client, timeout_s=5)
    await redis.execute_command("CLIENT", "PAUSE", 500, "ALL")
    with pytest.raises(TimeoutError) as info:
        async with asyncio.timeout(0.2):
            await pipelined.execute_command("PING")
    assert not isinstance(info.value, aioredis.TimeoutError)
    await redis.execute_command("CLIENT", "UNPAUSE")
    assert await pipelined.execute_command("PING") is True  # redis-py's reply callbacks apply, as without us
    await client.aclose()


async def test_a_redis_that_stops_answering_fails_what_is_due_and_the_next_command_reconnects(redis_url):  # type: ignore[no-untyped-def]
    client = connect(redis_url)
    pipelined = AutoPipeline(client, timeout_s=0.3)
    assert await pipelined.execute_command("PING") is True
    admin = aioredis.Redis.from_url(redis_url, decode_responses=True)
    await admin.execute_command("CLIENT", "PAUSE", 800, "ALL")  # every other client's commands wait
    began = time.monotonic()
    results = await asyncio.gather(*(pipelined.execute_command("INCR", "paused") for _ in range(3)), return_exceptions=True)
    assert all(type(r) is aioredis.TimeoutError for r in results), results
    assert time.monotonic() - began < 0.7  # our timeout, not the pause's end
    await admin.execute_command("CLIENT", "UNPAUSE")
    assert await pipelined.execute_command("ECHO", "again") == "again"
    await pipelined.aclose()
    await admin.aclose()
    await client.aclose()


async def test_a_connection_killed_under_it_fails_what_is_due_and_the_next_command_reconnects(redis_url, redis):  # type: ignore[no-untyped-def]
    client = connect(redis_url, max_connections=1)  # one connection: the one killed is the one used next
    pipelined = AutoPipeline(client, timeout_s=5)
    mine = await pipelined.execute_command("CLIENT", "ID")
    await redis.execute_command("CLIENT", "PAUSE", 300, "ALL")  # hold its next commands while it is killed
    due = [asyncio.ensure_future(pipelined.execute_command("ECHO", f"lost-{n}")) for n in range(3)]
    await asyncio.sleep(0.05)
    await redis.execute_command("CLIENT", "KILL", "ID", mine)
    for waiter in due:
        with pytest.raises(aioredis.ConnectionError):
            await waiter
    assert await pipelined.execute_command("ECHO", "again") == "again"
    assert await pipelined.execute_command("CLIENT", "ID") != mine
    await pipelined.aclose()
    await client.aclose()


async def test_a_connection_closed_while_idle_is_replaced_not_written_to(redis_url, redis):  # type: ignore[no-untyped-def]
    # Redis (or a proxy) may close an idle connection; the pool's own check before use finds out.
    client = connect(redis_url, max_connections=1)
    pipelined = AutoPipeline(client, timeout_s=5)
    mine = await pipelined.execute_command("CLIENT", "ID")
    await redis.execute_command("CLIENT", "KILL", "ID", mine)
    await asyncio.sleep(0.1)
    assert await asyncio.gather(*(pipelined.execute_command("ECHO", f"fine-{n}") for n in range(3))) == \
        ["fine-0", "fine-1", "fine-2"]
    assert await pipelined.execute_command("CLIENT", "ID") != mine
    await pipelined.aclose()
    await client.aclose()


async def test_redis_stopped_mid_batch_fails_every_waiter_and_it_recovers_after_a_restart(tmp_path):  # type: ignore[no-untyped-def]
    server = RedisServer(find_binaries()[0], tmp_path / "redis", port=free_port(), persist=False).start()
    client = connect(server.url)
    admin = aioredis.Redis.from_url(server.url, decode_responses=True)
    try:
        pipelined = AutoPipeline(client, timeout_s=5)
        assert await pipelined.execute_command("INCR", "n") == 1
        await admin.execute_command("CLIENT", "PAUSE", 5000, "ALL")  # the batch is sent, and not answered
        waiters = [asyncio.ensure_future(pipelined.execute_command("INCR", "n")) for _ in range(10)]
        await asyncio.sleep(0.1)
        assert not any(w.done() for w in waiters)
        await asyncio.to_thread(server.stop)
        results = await asyncio.gather(*waiters, return_exceptions=True)
        assert all(isinstance(r, aioredis.ConnectionError) for r in results), results
        with pytest.raises(aioredis.ConnectionError):  # down: every call says so at once
            await asyncio.gather(*(pipelined.execute_command("INCR", "n") for _ in range(3)))
        server.start()
        replies = await asyncio.gather(*(pipelined.execute_command("INCR", "n") for _ in range(5)))
        assert sorted(replies) == [1, 2, 3, 4, 5]  # a new, empty Redis (persist=False): all went
        await pipelined.aclose()
    finally:
        await admin.aclose()
        await client.aclose()
        server.stop()


def connect_like(redis: aioredis.Redis) -> aioredis.Redis:
    """A client as connect() makes them, on the `redis` fixture's server."""
    kwargs = redis.connection_pool.connection_kwargs
    client = connect(f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}")
    assert isinstance(client, aioredis.Redis)
    return client


async def test_a_loop_polling_redis_stops_at_every_cancellation(redis_url, redis):  # type: ignore[no-untyped-def]
    """Under the socket timeout, redis-py sends through asyncio.wait_for, which on Python 3.11 drops
    a cancellation landing as the send completes: the outbox sender then never stopped (an app that
    cannot shut down). A loop that checks `honour_cancellation` stops every time."""
    import random

    from frontdoor.storage.client import honour_cancellation

    client = connect(redis_url)

    async def poll() -> None:
        while True:
            honour_cancellation()
            await client.xreadgroup("g", "c", {"poll": ">"}, count=1, block=20)

    await redis.xgroup_create("poll", "g", id="0", mkstream=True)
    stuck = 0
    for _ in range(150):
        task = asyncio.create_task(poll())
        await asyncio.sleep(random.random() * 0.05)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=0.5)
        if not done:
            stuck += 1
            task.cancel()
            await asyncio.wait([task], timeout=1)
    assert stuck == 0
    await client.aclose()


@pytest.mark.parametrize("args", [
    ("SET", "k", "v"),
    ("EVALSHA", "a" * 40, 2, "fd:{s0}:x", "fd:{s0}:y", 1_700_000_000_000, 2.5, b"\x00\xff", "ünïcödé " * 3),
    ("CONFIG GET", "maxmemory"),  # a command name with a space: redis-py splits it
    ("SET", "k", memoryview(b"bytes by view")),  # a type hiredis does not take
    ("SET", "k", "x" * 10_000),  # past redis-py's chunking cut-off
])
def test_hiredis_packing_puts_the_same_bytes_on_the_wire_as_redis_py(args: tuple[Any, ...]) -> None:
    from redis.asyncio.connection import Connection

    from frontdoor.storage.client import hiredis_pack, hiredis_packing

    assert hiredis_pack is not None, "pyproject asks for redis[hiredis]"
    ours, theirs = hiredis_packing(Connection)(), Connection()
    assert b"".join(map(bytes, ours.pack_command(*args))) == b"".join(map(bytes, theirs.pack_command(*args)))


@pytest.mark.parametrize("url, base", [("redis://127.0.0.1:6390/2", "Connection"),
                                       ("rediss://127.0.0.1:6390/0", "SSLConnection"),
                                       ("unix:///tmp/frontdoor-none.sock?db=1", "UnixDomainSocketConnection")])
async def test_every_single_node_url_gets_hiredis_packing_on_its_own_kind_of_connection(url: str, base: str) -> None:
    client = connect(url, max_connections=7)
    try:
        pool = client.connection_pool
        assert pool.connection_class.__name__ == f"Hiredis{base}"
        assert [c.__name__ for c in pool.connection_class.__mro__].count(base) == 1
        assert pool.max_connections == 7 and pool.connection_kwargs["db"] == int(url[-1])
        assert pool.connection_kwargs["socket_timeout"] == COMMAND_TIMEOUT_S
    finally:
        await client.aclose()


async def test_a_packed_client_works_end_to_end(redis_url: str) -> None:
    client = connect(redis_url)
    try:
        await client.set("fd:packed", "ünïcödé")
        assert await client.get("fd:packed") == "ünïcödé"
        assert await client.execute_command("CONFIG GET", "appendonly") is not None
    finally:
        await client.aclose()
