"""A global pace for requests an attacker profits from by numbers: receipt look-ups.

A per-client limit (ratelimit.py) stops one address; a guesser with ten thousand addresses gets ten
thousand times the limit. What bounds that guesser is the number of answers the service gives per
second to everyone together, so `Pace` spaces them out: each request reserves the next free slot in
one Redis key shared by every process (lua/pace.lua, a GCRA: one round trip, atomic, a single key
in a single cluster slot), and is answered when its slot comes. While look-ups arrive slower than
the rate (a hotline's reporters, day and night), every one is answered at once, up to `burst` of
them together; above it each waits its turn, and a request whose turn is more than `max_wait_s`
away is refused with 429 and Retry-After, holding nothing. So however many clients ask, no more
than `rate_per_s` x seconds + `burst` + `rate_per_s` x `max_wait_s` look-ups are ever answered,
and no more than `burst` + `rate_per_s` x `max_wait_s` wait at once in all processes together.

The price: under a flood, real reporters' look-ups wait (up to `max_wait_s`) or are refused like
the guesser's. A receipt only tells a coarse status, and a reporter can try again later; a report
itself never passes here. docs/operations.md ("Abuse limits") computes what a guesser at the rate can expect.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from ..errors import RateLimited
from ..storage import keys
from ..storage.client import Client
from ..storage.scripts import Script, source

BUSY = "Receipt checks are very busy right now. Please try again in a little while."


class Pace:
    def __init__(self, redis: Client, kind: str, *, rate_per_s: int, max_wait_s: float, burst: int | None = None,
                 clock_ms: Callable[[], int] | None = None) -> None:
        """`burst`: look-ups answered at once after a quiet spell; by default one second's worth."""
        self._script = Script(redis, source(__package__, "pace.lua"))
        self._key = keys.pace(kind)
        self._interval_ms = 1000.0 / rate_per_s
        self._burst = max(1, rate_per_s if burst is None else burst)
        self._max_wait_ms = int(max_wait_s * 1000)
        self._clock_ms = clock_ms or _now_ms

    async def reserve(self) -> float:
        """This request's place: seconds to wait before answering it; RateLimited if that is too long."""
        wait_ms = int(await self._script([self._key], [self._clock_ms(), self._interval_ms, self._burst, self._max_wait_ms]))
        if wait_ms < 0:
            raise RateLimited(BUSY, retry_after_s=max(1, math.ceil(-wait_ms / 1000)))
        return wait_ms / 1000

    async def wait_turn(self) -> None:
        """Reserve a place and wait for it (the request deadline, http/errors.py, is longer than max_wait_s)."""
        wait_s = await self.reserve()
        if wait_s > 0:
            await asyncio.sleep(wait_s)


def _now_ms() -> int:
    """Wall-clock time: every process and host keeps one pace, so all must read the same clock (NTP's
    milliseconds of skew move a slot by as much, no more)."""
    return time.time_ns() // 1_000_000
