"""The shared state, read from Redis when Prometheus scrapes: global, so read once per scrape by
whoever serves the endpoint, never once per worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from prometheus_client.core import GaugeMetricFamily, Metric
from redis.exceptions import RedisError

from ..outbox import Outbox
from ..queue import TriageQueue
from ..storage import keys
from ..storage.client import UNAVAILABLE, Client

SCRAPE_REDIS_TIMEOUT_S = 5.0  # a scrape answers (with frontdoor_redis_up 0) rather than hang on a stalled Redis
# Redis away (TimeoutError included: an OSError), or answering with an error: the scrape says redis_up 0.
FAILED: tuple[type[Exception], ...] = (*UNAVAILABLE, RedisError)


class RedisGauges:
    """The shared state, read at scrape: a few pipelined reads, whatever the number of workers."""

    def __init__(self, redis: Client, queue: TriageQueue, outbox: Outbox,
                 clock: Callable[[], float] = time.time) -> None:
        self.redis, self.queue, self.outbox, self.clock = redis, queue, outbox, clock

    async def families(self) -> list[Metric]:
        up = GaugeMetricFamily("frontdoor_redis_up", "1 if Redis answered this scrape's reads, else 0 "
                               "(the queue and outbox gauges are then missing).")
        try:
            async with asyncio.timeout(SCRAPE_REDIS_TIMEOUT_S):
                began = time.perf_counter()
                await self.redis.ping()
                ping_s = time.perf_counter() - began
                depth = await self.queue.depth()
                oldest = await self._oldest_ms()
                counts = await self.outbox.counts()
        except FAILED:
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        ping = GaugeMetricFamily("frontdoor_redis_ping_seconds", "Round trip of a PING to Redis, timed at this scrape.")
        ping.add_metric([], ping_s)
        cases = GaugeMetricFamily("frontdoor_queue_cases", "Cases in each triage lane, waiting or claimed.",
                                  labels=["lane"])
        claimed = GaugeMetricFamily("frontdoor_queue_claimed_cases", "Cases in each lane that an analyst holds.",
                                    labels=["lane"])
        age = GaugeMetricFamily("frontdoor_queue_oldest_age_seconds", "Age of the oldest case in each lane "
                                "(since it entered the lane; 0 when the lane is empty).", labels=["lane"])
        now_ms = self.clock() * 1000
        for lane in keys.LANES:
            cases.add_metric([lane], depth[lane]["in_queue"])
            claimed.add_metric([lane], depth[lane]["claimed"])
            head_ms = oldest[lane]
            age.add_metric([lane], max(0.0, (now_ms - head_ms) / 1000) if head_ms is not None else 0.0)
        waiting = GaugeMetricFamily("frontdoor_outbox_waiting", "Outbox messages waiting to be sent (new or between attempts).")
        waiting.add_metric([], counts["waiting"])
        dead = GaugeMetricFamily("frontdoor_outbox_dead_letters", "Outbox messages given up on (`frontdoor outbox list`).")
        dead.add_metric([], counts["dead_letters"])
        return [up, ping, cases, claimed, age, waiting, dead]

    async def _oldest_ms(self) -> dict[str, int | None]:
        """The head of each lane in every shard: a stream entry's id is the time it was added (ms)."""
        pipe = self.redis.pipeline(transaction=False)
        for lane in keys.LANES:
            for shard in range(self.queue.shards):
                pipe.xrange(keys.lane(shard, lane), count=1)
        heads = iter(await pipe.execute())
        out: dict[str, int | None] = {}
        for lane in keys.LANES:
            times = [int(head[0][0].split("-")[0]) for head in (next(heads) for _ in range(self.queue.shards)) if head]
            out[lane] = min(times) if times else None
        return out
