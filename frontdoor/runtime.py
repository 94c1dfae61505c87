"""How a server process runs: its event loop, and its garbage collector once it has started.

uvloop, where it installs (Linux, macOS), does the loop's own work (polling, transports, callbacks)
in C: about a quarter less CPU per chat turn here, most of it the HTTP and Redis sockets' bookkeeping.

Once started, a server holds a large, permanent heap (the dialog's domain, the prevention content,
compiled schemas, every module). Python's oldest-generation collection walks all of it: a pause of
about 60 ms under load here, which is a chat turn's p99. `gc.freeze()` after start-up moves that
heap out of the collector's sight; what requests allocate is collected as before, though less often
(the youngest generation's threshold raised from 700 to 10,000 allocations): nearly everything a
request allocates is freed by its reference count, and each collection walks what is still alive.

Nothing in frontdoor depends on either; the tests run on asyncio's loop with the collector untouched.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from typing import Any


def loop_factory() -> tuple[str, Callable[[], asyncio.AbstractEventLoop]]:
    """A name for reports, and the function that makes a new loop."""
    try:
        import uvloop
    except ImportError:
        return "asyncio", asyncio.new_event_loop
    return f"uvloop {uvloop.__version__}", uvloop.new_event_loop


def new_event_loop() -> asyncio.AbstractEventLoop:
    return loop_factory()[1]()


def settle_heap() -> None:
    """Collect start-up's garbage, then freeze what is left (see the module's docstring)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


async def settle_heap_on_startup(_app: Any) -> None:
    """For an aiohttp Application's on_startup, after its cleanup contexts have started."""
    settle_heap()
