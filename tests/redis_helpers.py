"""A Redis client that a test gets empty and leaves empty."""

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
