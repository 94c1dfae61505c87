"""Redis for tests: a client that a test gets empty and leaves empty, and a count of round trips."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any


@contextlib.asynccontextmanager
async def wiped(client: Any) -> AsyncIterator[Any]:
    """Flush before and after (on a cluster client FLUSHDB reaches every primary), then close."""
    await client.flushdb()
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()


def count_round_trips(monkeypatch: Any) -> list[int]:
    """A counter of writes to Redis, each one round trip: a command sent alone, or a pipeline (what
    an AutoPipeline sends of one pass of the event loop)."""
    from redis.asyncio.connection import AbstractConnection

    sent = [0]
    original = AbstractConnection.send_packed_command
    original_on_connect = AbstractConnection.on_connect

    async def counting(self, command, check_health=True):  # type: ignore[no-untyped-def]
        sent[0] += not getattr(self, "_counting_skips", False)
        return await original(self, command, check_health)

    async def on_connect(self):  # type: ignore[no-untyped-def]
        # A new connection's set-up (CLIENT SETINFO, AUTH, SELECT) is not the operation being counted:
        # which operation pays it depends on which connections the pool happens to hold.
        self._counting_skips = True
        try:
            return await original_on_connect(self)
        finally:
            self._counting_skips = False

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    monkeypatch.setattr(AbstractConnection, "on_connect", on_connect)
    return sent
