"""Consumer groups: made at start-up, and made again the moment Redis turns out to have lost them.

A Redis restarted without its data (no persistence, a failover to an empty replica) or flushed has
no streams and no groups; the next XREADGROUP, XPENDING or XCLAIM answers NOGROUP. Waiting for the
next housekeeping run would leave analysts with errors for up to a minute, so the call that meets
NOGROUP makes the groups again (from id 0: entries added since the loss are read too) and runs once
more. The loss itself is logged as a warning: whatever Redis held before it is gone.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import ResponseError

from .client import Client

log = logging.getLogger(__name__)
T = TypeVar("T")


async def create_group(redis: Client, stream: str, group: str) -> None:
    """The group on this stream (and the stream), unless it exists: safe at every start."""
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):  # the group exists already: nothing to do
            raise


def is_nogroup(exc: ResponseError) -> bool:
    """NOGROUP, sent bare or inside a script's error ("Error running script ... NOGROUP ...")."""
    return "NOGROUP" in str(exc)


async def regrouping(call: Callable[[], Awaitable[T]], remake: Callable[[], Awaitable[None]], what: str) -> T:
    """`call()`; if it meets NOGROUP, `remake()` the groups and `call()` once more."""
    try:
        return await call()
    except ResponseError as exc:
        if not is_nogroup(exc):
            raise
    log.warning("%s: the consumer groups were gone (did Redis lose its data?); made again", what)
    await remake()
    return await call()
