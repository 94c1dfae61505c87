"""Operators' metrics for Prometheus: what came in, what the queue and the outbox hold, how Redis is.

Two kinds of series, kept apart on purpose:

- Counters of what a process did (reports accepted per channel, HTTP answers per status class and
  route pattern) are prometheus_client counters in the process that did it: an increment costs a
  lock and a float addition (with several workers, a write to a memory-mapped file), no Redis
  command, so the request path pays microseconds and Redis sees no extra traffic.
- Gauges of shared state (queue depth and the age of the oldest case per lane, the outbox's waiting
  messages and dead letters, Redis's round trip) are read from Redis when Prometheus scrapes, once
  per scrape and by whoever serves the endpoint: they are global, so no worker reports its own copy.

With `serve --workers N` the counters use prometheus_client's documented multiprocess mode rather
than INCRs in Redis: the supervisor makes a fresh private directory (PROMETHEUS_MULTIPROC_DIR, set in
each worker's environment before it starts, as the library requires), every worker writes its
counters to a file of its own there, and the supervisor serves the endpoint, summing every file at
scrape time (MultiProcessCollector). A worker that dies leaves its file behind, so its counts stay in
the sum and the totals never step back when it is replaced; mark_process_dead removes only live-gauge
files (there are none today, but the bookkeeping is the library's contract). Counters in Redis would
have added a command to every HTTP answer and kept counting across restarts of the whole service,
which Prometheus does not need: a counter that starts again from zero when `serve` restarts is what
its rate() expects. The supervisor serving means a scrape still answers while a worker restarts.

Nothing in a label or a value comes from a reporter: channels are the names the code gives, routes
are aiohttp's route patterns ("/api/v1/receipts/{code}", never the path asked for; "-" for a request
that matched no route), status classes are "2xx" to "5xx".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter

_CHANNEL = re.compile(r"[a-z_]{1,20}")

REPORTS = Counter("frontdoor_reports", "Reports accepted and queued, by the channel they came through "
                  "(a retry answered with the first receipt is not counted again).", ["channel"])
ANSWERS = Counter("frontdoor_http_responses", "HTTP answers, by status class and route pattern "
                  "(\"-\": the request matched no route).", ["class", "route"])


def expect_channels(channels: Iterable[str]) -> None:
    """Each channel's series exists from the start, at 0, so rate() and a test's delta see its first report."""
    for channel in channels:
        REPORTS.labels(_channel(channel))


def report_accepted(channel: str) -> None:
    REPORTS.labels(_channel(channel)).inc()


def answered(status: int, route: str) -> None:
    """One HTTP answer. `route` is a route pattern (logs.AccessLogger reads it), never a path."""
    _answers(status // 100 if 100 <= status <= 599 else 0, route).inc()


@functools.cache  # a few routes times five classes; skips labels()'s lock and lookup on every answer
def _answers(hundreds: int, route: str) -> Any:
    return ANSWERS.labels(f"{hundreds}xx" if hundreds else "other", route)


def _channel(channel: str) -> str:
    return channel if _CHANNEL.fullmatch(channel) else "other"
