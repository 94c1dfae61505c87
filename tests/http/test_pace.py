"""The global pace on a real Redis, on a clock moved by hand: what it answers at once, how long the
rest wait, when it refuses, and that processes share it (frontdoor/http/pace.py)."""

from __future__ import annotations

import asyncio

import pytest

from frontdoor.errors import RateLimited
from frontdoor.http.pace import Pace
from support.clock import Clock

START = 1_700_000_000_000


def pace(redis, clock: Clock, *, rate_per_s: int = 4, max_wait_s: float = 1.0, burst: int | None = None) -> Pace:  # type: ignore[no-untyped-def]
    return Pace(redis, "receipts", rate_per_s=rate_per_s, max_wait_s=max_wait_s, burst=burst, clock_ms=clock)


async def waits(p: Pace, n: int) -> list[float | None]:
    """The wait each of `n` requests is given, None for a refusal."""
    out: list[float | None] = []
    for _ in range(n):
        try:
            out.append(await p.reserve())
        except RateLimited:
            out.append(None)
    return out


async def test_a_burst_is_answered_at_once_then_each_waits_one_interval_more_then_refused(redis):
    clock = Clock(START)
    got = await waits(pace(redis, clock, rate_per_s=4, max_wait_s=1.0), 12)
    # Four at once (a second's worth), then 0.25 s apart up to the longest wait of 1 s, then refusals.
    assert got == [0, 0, 0, 0, 0.25, 0.5, 0.75, 1.0, None, None, None, None]


async def test_a_refusal_says_when_to_come_back_and_reserves_nothing(redis):
    clock = Clock(START)
    p = pace(redis, clock, rate_per_s=2, max_wait_s=1.0, burst=1)
    assert await waits(p, 3) == [0, 0.5, 1.0]
    with pytest.raises(RateLimited) as refused:
        await p.reserve()
    assert refused.value.status == 429 and refused.value.retry_after_s == 1
    before = await redis.get("fd:{pace:receipts}")
    for _ in range(50):  # a flood of refusals moves nothing
        with pytest.raises(RateLimited):
            await p.reserve()
    assert await redis.get("fd:{pace:receipts}") == before
    clock.ms += 500  # one slot freed
    assert await p.reserve() == 1.0


async def test_after_a_quiet_spell_everything_is_answered_at_once_again(redis):
    clock = Clock(START)
    p = pace(redis, clock, rate_per_s=4, max_wait_s=1.0)
    await waits(p, 12)
    clock.ms += 3000
    assert await waits(p, 4) == [0, 0, 0, 0]


async def test_a_steady_rate_below_the_pace_never_waits(redis):
    clock = Clock(START)
    p = pace(redis, clock, rate_per_s=4, max_wait_s=1.0, burst=1)
    for _ in range(40):
        assert await p.reserve() == 0
        clock.ms += 250


async def test_processes_share_one_pace(redis):
    clock = Clock(START)
    first, second = pace(redis, clock), pace(redis, clock)  # two processes: only Redis is shared
    got = await asyncio.gather(*(waits(p, 6) for p in (first, second)))
    answered = [w for ws in got for w in ws if w is not None]
    assert len(answered) == 8  # 4 at once and 4 waiting, as if one process had had them all
    assert sorted(answered) == [0, 0, 0, 0, 0.25, 0.5, 0.75, 1.0]


async def test_however_many_ask_at_once_the_answers_per_second_are_bounded(redis):
    clock = Clock(START)
    processes = [pace(redis, clock, rate_per_s=10, max_wait_s=2.0) for _ in range(3)]
    answered = 0
    for _ in range(10):  # ten seconds of a flood from everywhere: 300 requests a second
        got = await asyncio.gather(*(waits(p, 100) for p in processes))
        answered += sum(w is not None for ws in got for w in ws)
        clock.ms += 1000
    # At most the rate, plus the burst and the queue once: never the flood.
    assert 10 * 10 <= answered <= 10 * 10 + 10 + 10 * 2


async def test_the_key_lives_only_as_long_as_the_queue_it_holds(redis):
    clock = Clock(START)
    p = pace(redis, clock, rate_per_s=4, max_wait_s=1.0)
    await waits(p, 8)
    keys = [k async for k in redis.scan_iter("*")]
    assert keys == ["fd:{pace:receipts}"]  # one key, no client in it
    # The eighth was due 1.75 s from now, the next 2 s: the key outlives that by a second, no more.
    assert 2000 < await redis.pttl(keys[0]) <= 3000


async def test_on_a_redis_cluster_the_pace_is_one_key_in_one_slot(cluster_redis):
    clock = Clock(START)
    assert await waits(pace(cluster_redis, clock, rate_per_s=2, max_wait_s=0.5), 4) == [0, 0, 0.5, None]
