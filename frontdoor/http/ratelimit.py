"""Rate limits per client and minute, without keeping who the client is.

A client is what sends the requests: a browser, keyed by its address (`RequestLimits`), or for a
channel whose requests all come from a provider's servers (a webhook), the conversation, keyed by its
pseudonym (so one busy reporter does not stop everyone else who writes through the same provider).
Either is replaced at once by a keyed hash under a key that rotates daily (Keyring.daily_pseudonym);
the counter lives two minutes in Redis, shared by every process. Nothing here can be turned back
into an address, and nothing links one day's counters to the next.

Two ways to count a request:

- `hit` counts it in Redis (INCR+EXPIRE, one round trip) and then decides: form reports and
  e-mail, where a round trip more does not matter.
- `admit` is for the chat's conversations and messages, which should not pay a round trip of their
  own. This process remembers, per counter (client pseudonym, kind, minute), the highest count
  Redis answered it and the requests it admitted whose count Redis has not confirmed yet. While
  those add up to less than the limit, a request is admitted at once and its count waits here; a
  flush sends every waiting count in one pipeline (INCRBY+EXPIRE per counter) `flush_interval_s`
  after the first of them, whatever the number of clients. At the limit, the request's counter is
  sent now and the request refused only if Redis's count, plus what is still unconfirmed here, is
  over it (so a counter that was reset lets the client through again). Refused requests count too.

The bound: one process alone never admits more than the limit, however many requests a client sends
at once. Processes sharing a client learn its count with every flush, so while a client sends one
request at a time (the widget does) and a flush interval is shorter than its pauses, each process
admits at most one request beyond the limit per minute; requests sent concurrently through several
processes could, in the worst case, pass the limit in each of them. A flush that fails (Redis down)
loses its counts: the limiter errs towards letting people report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from aiohttp import web

from ..errors import RateLimited
from ..keyring import Keyring
from ..storage import keys
from ..storage.client import UNAVAILABLE, Client

log = logging.getLogger(__name__)
COUNTER_TTL_S = 120
MEMORY_ENTRIES = 100_000  # counters remembered at once; forgetting one costs its client a round trip
FLUSH_INTERVAL_S = 0.05
FLUSH_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int


class RateLimiter:
    def __init__(self, redis: Client, keyring: Keyring, limits_per_min: dict[str, int], *,
                 flush_interval_s: float = FLUSH_INTERVAL_S) -> None:
        self.redis = redis
        self.keyring = keyring
        self.limits = limits_per_min
        self.flush_interval_s = flush_interval_s
        self._known: dict[str, int] = {}  # counter key -> the highest count Redis answered this process
        self._pending: dict[str, int] = {}  # counter key -> requests admitted whose count is unconfirmed
        self._unsent: dict[str, int] = {}  # counter key -> of those, the ones not sent to Redis yet
        self._flush: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()
        self._minute, self._day = 0, ""
        # This minute's counter keys by (kind, hash of the address): the keyed hash once per client
        # and minute, not per request. Python's hash is salted per process; no address is kept (two
        # addresses sharing a 64-bit hash would share a counter for a minute: about 1 in 10^9 a minute
        # at 100,000 clients).
        self._keys: dict[tuple[str, int], str] = {}

    async def hit(self, kind: str, address: str, *, now: float | None = None) -> Verdict:
        """Count one request of `kind` from `address`; one Redis round trip."""
        now = time.time() if now is None else now
        return await self._count(self._key(kind, address, now), kind, now)

    async def admit(self, kind: str, address: str, *, now: float | None = None) -> Verdict:
        """Admit one request of `kind` from `address` on what this process knows, its count sent by
        the next flush; at the limit, count it now and decide as `hit` does."""
        now = time.time() if now is None else now
        key = self._key(kind, address, now)
        pending = self._pending.get(key, 0)
        if self._known.get(key, 0) + pending >= self.limits[kind]:
            return await self._count(key, kind, now)
        self._pending[key] = pending + 1
        self._unsent[key] = self._unsent.get(key, 0) + 1
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(self.flush_interval_s, self._start_flush)
        return Verdict(True, 0)

    async def flush(self) -> None:
        """Send every count waiting here (the timer does this; call it before stopping)."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        batch, self._unsent = self._unsent, {}
        await self._send(batch)

    async def aclose(self) -> None:
        """The waiting counts sent, as far as Redis lets: on the way out, never an error of its own."""
        with contextlib.suppress(*UNAVAILABLE):  # TimeoutError included
            async with asyncio.timeout(FLUSH_TIMEOUT_S):
                await self.flush()
                if self._flushing:
                    await asyncio.gather(*self._flushing, return_exceptions=True)

    def _start_flush(self) -> None:
        """One background flush at a time: while Redis is slow, counts gather for the next."""
        loop = asyncio.get_running_loop()
        if self._flushing:
            self._flush = loop.call_later(self.flush_interval_s, self._start_flush)
            return
        self._flush = None
        task = loop.create_task(self._flush_in_background())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _flush_in_background(self) -> None:
        try:
            async with asyncio.timeout(FLUSH_TIMEOUT_S):  # the whole flush, not each command (storage.client's timeout)
                await self.flush()
        except UNAVAILABLE:  # TimeoutError included: it is an OSError
            log.warning("rate counts not sent: redis unavailable")
        except Exception:  # a background flush must never die loudly; its counts are lost, see above
            log.exception("rate counts not sent")

    async def _count(self, key: str, kind: str, now: float) -> Verdict:
        self._pending[key] = self._pending.get(key, 0) + 1
        count = (await self._send({key: self._unsent.pop(key, 0) + 1}))[key]
        if count + self._pending.get(key, 0) > self.limits[kind]:
            return Verdict(False, max(1, 60 - int(now % 60)))
        return Verdict(True, 0)

    async def _send(self, batch: dict[str, int]) -> dict[str, int]:
        """INCRBY+EXPIRE for each counter in one pipeline; Redis's counts (0 for a batch that failed)."""
        if not batch:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for key, n in batch.items():
            pipe.incrby(key, n)
            pipe.expire(key, COUNTER_TTL_S)
        try:
            replies = await pipe.execute()
        except BaseException:
            for key, n in batch.items():
                self._confirmed(key, n, 0)
            raise
        counts = {key: int(replies[2 * i]) for i, key in enumerate(batch)}
        for key, n in batch.items():
            self._confirmed(key, n, counts[key])
        return counts

    def _key(self, kind: str, address: str, now: float) -> str:
        minute = int(now // 60)
        if minute != self._minute or len(self._known) + len(self._pending) >= MEMORY_ENTRIES:
            self._known.clear()  # past minutes' counters are of no use
            self._pending.clear()
            self._keys.clear()
            self._minute, self._day = minute, time.strftime("%Y-%m-%d", time.gmtime(minute * 60))
        key = self._keys.get((kind, hash(address)))
        if key is None:
            if len(self._keys) >= MEMORY_ENTRIES:
                self._keys.clear()
            key = keys.rate(self.keyring.daily_pseudonym("ratelimit", address, self._day), kind, minute)
            self._keys[(kind, hash(address))] = key
        return key

    def _confirmed(self, key: str, sent: int, count: int) -> None:
        """Redis answered `count` for `sent` requests' INCRBY (0: the pipeline failed, the count is unknown)."""
        pending = self._pending.pop(key, 0) - sent
        if pending > 0:
            self._pending[key] = pending
        if count > self._known.get(key, 0):
            self._known[key] = count


class RequestLimits:
    """The limits of requests that come from reporters' own browsers, keyed on the client address."""

    def __init__(self, limiter: RateLimiter, *, trust_forwarded_for: bool) -> None:
        self._limiter = limiter
        self._trust_forwarded_for = trust_forwarded_for

    async def check(self, request: web.Request, kind: str) -> None:
        """Count this request against its client's per-minute limit; 429 with Retry-After beyond it."""
        _raise_if_refused(await self._limiter.hit(kind, self.client_address(request)))

    async def admit(self, request: web.Request, kind: str) -> None:
        """As `check`, without a round trip of its own: the count goes to Redis with the limiter's
        next flush (RateLimiter.admit)."""
        _raise_if_refused(await self._limiter.admit(kind, self.client_address(request)))

    def client_address(self, request: web.Request) -> str:
        """The address to rate-limit on (hashed at once by the limiter, never stored or logged).

        Behind the one trusted proxy, the last X-Forwarded-For entry: the address the proxy saw and
        appended. Entries before it are whatever the client wrote, and taking the first would let a
        client be a new one with every request. Without trust the header is ignored: anyone can send it.
        """
        if self._trust_forwarded_for:
            last = request.headers.get("X-Forwarded-For", "").rsplit(",", 1)[-1].strip()
            if last:
                return last
        return request.remote or "unknown"


def _raise_if_refused(verdict: Verdict) -> None:
    if not verdict.allowed:
        raise RateLimited("You are sending requests very fast. Please wait a moment and try again.",
                          retry_after_s=verdict.retry_after_s)
