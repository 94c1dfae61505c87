"""Rate limits per client and minute, without keeping who the client is.

The client's address is replaced at once by a keyed hash under a key that rotates daily
(Keyring.daily_pseudonym); the counter lives two minutes in Redis, shared by every process.
Nothing here can be turned back into an address, and nothing links one day's counters to the next.

Two ways to count a request:

- `hit` counts it in Redis (INCR+EXPIRE, one round trip) and then decides: form reports, where
  a round trip more does not matter.
- `admit` is for the chat's conversations and messages, which should not pay a round trip of their
  own. This process remembers, per counter (client pseudonym, kind, minute), the highest count
  Redis answered it and the requests it admitted whose count Redis has not confirmed yet. While
  those add up to less than the limit, a request is admitted at once, and its INCR+EXPIRE (a
  `Charge`) rides to Redis in the pipeline that writes the conversation. At the limit, the request
  is counted now and refused only if Redis's count, plus what is still unconfirmed here, is over
  it (so a counter that was reset lets the client through again).

The bound: one process alone never admits more than the limit, however many requests a client sends
at once. Processes sharing a client learn its count with every request they serve, so each admits at
most one request beyond the limit per minute as long as the client sends one request at a time (the
widget does); requests sent concurrently through several processes could, in the worst case, pass
the limit in each of them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .keyring import Keyring
from .queue import keys
from .redis_client import Client

COUNTER_TTL_S = 120
MEMORY_ENTRIES = 100_000  # counters remembered at once; forgetting one costs its client a round trip


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int
    charge: Charge | None = None  # from `admit`: the count still to send to Redis


class Charge:
    """One admitted request's INCR+EXPIRE, sent once: in another pipeline (as a `Rider`) or by `send`."""

    def __init__(self, limiter: RateLimiter, key: str) -> None:
        self._limiter = limiter
        self._key = key
        self.sent = False
        self.count = 0  # Redis's count after this request's INCR (0: not known)

    def add_to(self, pipe: Any) -> int:
        if self.sent:
            return 0
        self.sent = True
        pipe.incr(self._key)
        pipe.expire(self._key, COUNTER_TTL_S)
        return 2

    def took(self, replies: list[Any] | None) -> None:
        self.count = int(replies[0]) if replies is not None else 0
        self._limiter._confirmed(self._key, self.count)

    async def send(self) -> None:
        """On its own, when nothing carried it (the request failed before writing anything)."""
        if self.sent:
            return
        pipe = self._limiter.redis.pipeline(transaction=False)
        self.add_to(pipe)
        try:
            replies = await pipe.execute()
        except BaseException:
            self.took(None)
            raise
        self.took(replies)


class RateLimiter:
    def __init__(self, redis: Client, keyring: Keyring, limits_per_min: dict[str, int]) -> None:
        self.redis = redis
        self.keyring = keyring
        self.limits = limits_per_min
        self._known: dict[str, int] = {}  # counter key -> the highest count Redis answered this process
        self._pending: dict[str, int] = {}  # counter key -> requests admitted whose count is unconfirmed
        self._minute, self._day = 0, ""

    async def hit(self, kind: str, address: str, *, now: float | None = None) -> Verdict:
        """Count one request of `kind` from `address`; one Redis round trip."""
        now = time.time() if now is None else now
        return await self._count(self._key(kind, address, now), kind, now)

    async def admit(self, kind: str, address: str, *, now: float | None = None) -> Verdict:
        """Admit one request of `kind` from `address` on what this process knows, its count to be
        sent later (`Verdict.charge`); at the limit, count it now and decide as `hit` does."""
        now = time.time() if now is None else now
        key = self._key(kind, address, now)
        pending = self._pending.get(key, 0)
        if self._known.get(key, 0) + pending >= self.limits[kind]:
            return await self._count(key, kind, now)
        self._pending[key] = pending + 1
        return Verdict(True, 0, Charge(self, key))

    async def _count(self, key: str, kind: str, now: float) -> Verdict:
        charge = Charge(self, key)
        self._pending[key] = self._pending.get(key, 0) + 1
        await charge.send()
        if charge.count + self._pending.get(key, 0) > self.limits[kind]:
            return Verdict(False, max(1, 60 - int(now % 60)))
        return Verdict(True, 0, charge)

    def _key(self, kind: str, address: str, now: float) -> str:
        minute = int(now // 60)
        if minute != self._minute or len(self._known) + len(self._pending) >= MEMORY_ENTRIES:
            self._known.clear()  # past minutes' counters are of no use
            self._pending.clear()
            self._minute, self._day = minute, time.strftime("%Y-%m-%d", time.gmtime(minute * 60))
        return keys.rate(self.keyring.daily_pseudonym("ratelimit", address, self._day), kind, minute)

    def _confirmed(self, key: str, count: int) -> None:
        """A charge's INCR answered `count` (0: its pipeline failed, the count is unknown)."""
        pending = self._pending.pop(key, 0) - 1
        if pending > 0:
            self._pending[key] = pending
        if count > self._known.get(key, 0):
            self._known[key] = count
