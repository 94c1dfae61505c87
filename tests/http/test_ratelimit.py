"""The rate limiter's bounds on a real Redis: what one process admits, what several admit together,
and that a refusal is Redis's word (see frontdoor/ratelimit.py)."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from frontdoor.keyring import Keyring
from frontdoor.http.ratelimit import RateLimiter, Verdict
from frontdoor.storage.client import UNAVAILABLE

NOW = 1_700_000_030.0  # the middle of a minute: every request below falls in the same one
ADDRESS = "203.0.113.7"


def limiter(redis, keyring: Keyring, limit: int, flush_interval_s: float = 3600.0) -> RateLimiter:  # type: ignore[no-untyped-def]
    """By default, a flush timer that never fires during a test: the tests flush when they mean to."""
    return RateLimiter(redis, keyring, {"messages": limit}, flush_interval_s=flush_interval_s)


async def served(limiter: RateLimiter, verdict: Verdict) -> bool:
    """A request the way the web channel serves it, followed by the limiter's next flush."""
    await limiter.flush()
    return verdict.allowed


async def stored_count(redis) -> int:  # type: ignore[no-untyped-def]
    keys = [k async for k in redis.scan_iter("fd:{rl:*")]
    return sum([int(await redis.get(k)) for k in keys])


async def test_one_process_never_admits_more_than_the_limit_however_many_arrive_at_once(redis, keyring):
    one = limiter(redis, keyring, 3)
    verdicts = await asyncio.gather(*(one.admit("messages", ADDRESS, now=NOW) for _ in range(10)))
    assert sum(v.allowed for v in verdicts) == 3  # their counts are not even in Redis yet
    assert await stored_count(redis) == 10  # the first refusal took the admissions' waiting counts with it
    assert not (await one.admit("messages", ADDRESS, now=NOW)).allowed
    (key,) = [k async for k in redis.scan_iter("fd:{rl:*")]
    assert ADDRESS not in key and 0 < await redis.ttl(key) <= 120


async def test_processes_sharing_a_client_each_admit_at_most_one_beyond_the_limit(redis, keyring):
    processes = [limiter(redis, keyring, 3), limiter(redis, keyring, 3)]
    admitted = [await served(processes[i % 2], await processes[i % 2].admit("messages", ADDRESS, now=NOW))
                for i in range(10)]
    assert sum(admitted) == 3 + 1  # one process learns the count only when it counts one more itself
    assert admitted[-4:] == [False] * 4


async def test_the_plain_count_and_the_admission_share_the_counter(redis, keyring):
    one = limiter(redis, keyring, 2)
    assert (await one.hit("messages", ADDRESS, now=NOW)).allowed
    assert await served(one, await one.admit("messages", ADDRESS, now=NOW))
    assert not (await one.hit("messages", ADDRESS, now=NOW)).allowed
    assert not (await one.admit("messages", ADDRESS, now=NOW)).allowed


async def test_a_refusal_is_redis_word_so_a_reset_counter_lets_the_client_through(redis, keyring):
    one = limiter(redis, keyring, 1)
    assert await served(one, await one.admit("messages", ADDRESS, now=NOW))
    assert not (await one.admit("messages", ADDRESS, now=NOW)).allowed
    await redis.flushdb()
    assert await served(one, await one.admit("messages", ADDRESS, now=NOW))


async def test_a_count_lost_with_its_flush_frees_its_place(redis, keyring):
    one = limiter(redis, keyring, 1)
    assert (await one.admit("messages", ADDRESS, now=NOW)).allowed
    one.redis = Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)  # unreachable when the flush goes out
    with pytest.raises(UNAVAILABLE):
        await one.flush()
    one.redis = redis
    assert await served(one, await one.admit("messages", ADDRESS, now=NOW))


async def test_the_timer_flushes_counts_without_being_asked(redis, keyring):
    one = limiter(redis, keyring, 5, flush_interval_s=0.01)
    for _ in range(3):
        assert (await one.admit("messages", ADDRESS, now=NOW)).allowed
    for _ in range(200):  # the counts reach Redis on their own, in one pipeline
        if await stored_count(redis) == 3:
            break
        await asyncio.sleep(0.01)
    assert await stored_count(redis) == 3
    await one.aclose()


async def test_closing_sends_what_waits(redis, keyring):
    one = limiter(redis, keyring, 5)
    assert (await one.admit("messages", ADDRESS, now=NOW)).allowed
    assert await stored_count(redis) == 0
    await one.aclose()
    assert await stored_count(redis) == 1


async def test_a_new_minute_starts_from_nothing(redis, keyring):
    one = limiter(redis, keyring, 1)
    assert await served(one, await one.admit("messages", ADDRESS, now=NOW))
    assert not (await one.admit("messages", ADDRESS, now=NOW)).allowed
    assert await served(one, await one.admit("messages", ADDRESS, now=NOW + 60))
