"""A Redis outage, as the log tells it: one warning when it starts, one line when it ends.

While Redis is down every request, the outbox sender and housekeeping fail, each in its own way and
many times a second; a log line from each would bury the one fact an operator needs (Redis went away
at 10:02, came back at 10:03). So whatever meets Redis unavailable reports it here (`failed`): the
first report of an outage is logged, the rest are not, and from then on one probe pings Redis twice
a second until it answers, which ends the outage with "redis reachable again after N s". A request
whose deadline passed may mean a Redis that stalls without closing the connection (paused,
partitioned): `suspect` has the probe ask once, and a Redis that does not answer is an outage too.

The app makes one per process (app.py) and hands it to the error guard, the outbox sender and
housekeeping. The lines name the error's type and Redis's own words, never anything of a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .client import UNAVAILABLE

log = logging.getLogger(__name__)
PROBE_INTERVAL_S = 0.5
PROBE_TIMEOUT_S = 1.0


class Outages:
    def __init__(self, ping: Callable[[], Awaitable[Any]], *, interval_s: float = PROBE_INTERVAL_S,
                 timeout_s: float = PROBE_TIMEOUT_S) -> None:
        self._ping = ping
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._since: float | None = None  # when the outage began; None while Redis answers
        self._probe: asyncio.Task[None] | None = None

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, exc: BaseException | str) -> None:
        """Redis was unavailable to someone just now (any of storage.client.UNAVAILABLE)."""
        if self._since is not None:
            return
        self._since = time.monotonic()
        log.warning("redis unavailable: %s; answering 503 (SMTP 451) until it is back, nothing acknowledged is lost",
                    exc if isinstance(exc, str) else _reason(exc))
        self._start(self._until_back())

    def suspect(self) -> None:
        """Something waited too long on Redis: is it there? An outage if it does not answer in time."""
        if self._since is None and self._probe is None:
            self._start(self._check())

    async def aclose(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe

    def _start(self, probe: Awaitable[None]) -> None:
        if self._probe is not None:  # a check in flight: the outage's probe takes over
            self._probe.cancel()
        self._probe = asyncio.ensure_future(probe)

    async def _answers(self) -> bool:
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._ping()
        except UNAVAILABLE:  # TimeoutError included: it is an OSError
            return False
        return True

    async def _check(self) -> None:
        try:
            if not await self._answers():
                self._probe = None
                self.failed(f"no answer within {self._timeout_s:g} s")
        finally:
            if self._since is None:
                self._probe = None

    async def _until_back(self) -> None:
        while not await self._answers():
            await asyncio.sleep(self._interval_s)
        since, self._since, self._probe = self._since, None, None
        log.warning("redis reachable again after %.1f s", time.monotonic() - (since or time.monotonic()))


def _reason(exc: BaseException) -> str:
    """The error's type and Redis's words (an address, "Connection refused"), on one line."""
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
