"""Rate limits per client and minute, without keeping who the client is.

The client's address is replaced at once by a keyed hash under a key that rotates daily
(Keyring.daily_pseudonym); the counter lives two minutes. Nothing here can be turned back
into an address, and nothing links one day's counters to the next.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .keyring import Keyring
from .queue import keys
from .redis_client import Client


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int


class RateLimiter:
    def __init__(self, redis: Client, keyring: Keyring, limits_per_min: dict[str, int]) -> None:
        self.redis = redis
        self.keyring = keyring
        self.limits = limits_per_min

    async def hit(self, kind: str, address: str, *, now: float | None = None) -> Verdict:
        """Count one request of `kind` from `address`; one Redis round trip."""
        now = time.time() if now is None else now
        minute = int(now // 60)
        day = time.strftime("%Y-%m-%d", time.gmtime(now))
        client = self.keyring.daily_pseudonym("ratelimit", address, day)
        key = keys.rate(client, kind, minute)
        pipe = self.redis.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, 120)
        count, _ = await pipe.execute()
        if int(count) > self.limits[kind]:
            return Verdict(False, max(1, 60 - int(now % 60)))
        return Verdict(True, 0)
