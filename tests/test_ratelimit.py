"""The rate limiter's bounds on a real Redis: what one process admits, what several admit together,
and that a refusal is Redis's word (see frontdoor/ratelimit.py)."""

from __future__ import annotations

import asyncio

from frontdoor.keyring import Keyring
from frontdoor.ratelimit import RateLimiter, Verdict

NOW = 1_700_000_030.0  # the middle of a minute: every request below falls in the same one
ADDRESS = "203.0.113.7"


def limiter(redis, keyring: Keyring, limit: int) -> RateLimiter:  # type: ignore[no-untyped-def]
    return RateLimiter(redis, keyring, {"messages": limit})


async def served(verdict: Verdict) -> bool:
    """A request the way the web channel serves it: admitted, then its count sent with its write."""
    if verdict.allowed and verdict.charge is not None:
        await verdict.charge.send()
    return verdict.allowed


async def test_one_process_never_admits_more_than_the_limit_however_many_arrive_at_once(redis, keyring):
    one = limiter(redis, keyring, 3)
    verdicts = await asyncio.gather(*(one.admit("messages", ADDRESS, now=NOW) for _ in range(10)))
    assert sum(v.allowed for v in verdicts) == 3  # their counts are not even in Redis yet
    for v in verdicts:
        await served(v)
    assert not (await one.admit("messages", ADDRESS, now=NOW)).allowed
    (key,) = [k async for k in redis.scan_iter("fd:{rl:*")]
    assert ADDRESS not in key and 0 < await redis.ttl(key) <= 120


async def test_processes_sharing_a_client_each_admit_at_most_one_beyond_the_limit(redis, keyring):
    processes = [limiter(redis, keyring, 3), limiter(redis, keyring, 3)]
    admitted = [await served(await processes[i % 2].admit("messages", ADDRESS, now=NOW)) for i in range(10)]
    assert sum(admitted) == 3 + 1  # one process learns the count only when it counts one more itself
    assert admitted[-4:] == [False] * 4


async def test_the_plain_count_and_the_admission_share_the_counter(redis, keyring):
    one = limiter(redis, keyring, 2)
    assert (await one.hit("messages", ADDRESS, now=NOW)).allowed
    assert await served(await one.admit("messages", ADDRESS, now=NOW))
    assert not (await one.hit("messages", ADDRESS, now=NOW)).allowed
    assert not (await one.admit("messages", ADDRESS, now=NOW)).allowed


async def test_a_refusal_is_redis_word_so_a_reset_counter_lets_the_client_through(redis, keyring):
    one = limiter(redis, keyring, 1)
    assert await served(await one.admit("messages", ADDRESS, now=NOW))
    assert not (await one.admit("messages", ADDRESS, now=NOW)).allowed
    await redis.flushdb()
    assert await served(await one.admit("messages", ADDRESS, now=NOW))


async def test_a_count_lost_with_its_pipeline_frees_its_place(redis, keyring):
    one = limiter(redis, keyring, 1)
    verdict = await one.admit("messages", ADDRESS, now=NOW)
    assert verdict.charge is not None
    verdict.charge.took(None)  # the pipeline that carried it failed
    assert await served(await one.admit("messages", ADDRESS, now=NOW))


async def test_a_new_minute_starts_from_nothing(redis, keyring):
    one = limiter(redis, keyring, 1)
    assert await served(await one.admit("messages", ADDRESS, now=NOW))
    assert not (await one.admit("messages", ADDRESS, now=NOW)).allowed
    assert await served(await one.admit("messages", ADDRESS, now=NOW + 60))
