"""The event loop the servers run on: uvloop where it installs (Linux, macOS), else asyncio's own.

uvloop does the loop's own work (polling, transports, callbacks) in C: about a quarter less CPU per
chat turn here, most of it the HTTP and Redis sockets' bookkeeping. Nothing in frontdoor depends on
which loop runs it; the tests run on asyncio's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


def loop_factory() -> tuple[str, Callable[[], asyncio.AbstractEventLoop]]:
    """A name for reports, and the function that makes a new loop."""
    try:
        import uvloop
    except ImportError:
        return "asyncio", asyncio.new_event_loop
    return f"uvloop {uvloop.__version__}", uvloop.new_event_loop


def new_event_loop() -> asyncio.AbstractEventLoop:
    return loop_factory()[1]()
