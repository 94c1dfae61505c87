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
    """A counter of writes to Redis, each one round trip: a command sent alone, or a pipeline."""
    from redis.asyncio.connection import AbstractConnection

    sent = [0]
    original = AbstractConnection.send_packed_command

    async def counting(self, command, check_health=True):  # type: ignore[no-untyped-def]
        sent[0] += 1
        return await original(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    return sent
