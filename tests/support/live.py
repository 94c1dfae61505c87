"""The real app on a real port, served from a thread of its own, for tests whose client is blocking
(schemathesis sends through `requests`): the app's event loop runs beside the test's, not inside it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")
START_TIMEOUT_S = 30.0


class LiveApp:
    """`url` to send to; `run(factory)` runs a coroutine of the app's (with the app) in its loop."""

    def __init__(self, url: str, app: web.Application, loop: asyncio.AbstractEventLoop) -> None:
        self.url = url
        self.app = app
        self._loop = loop

    def run(self, factory: Callable[[web.Application], Awaitable[T]]) -> T:
        async def call() -> T:
            return await factory(self.app)

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(START_TIMEOUT_S)


@contextmanager
def live_app(make_app: Callable[[], web.Application]) -> Iterator[LiveApp]:
    """`make_app` is called in the server's thread, so the app's Redis client belongs to its loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # bound before aiohttp sees it: no race for the port
    port = sock.getsockname()[1]
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def serve() -> None:
        app = make_app()
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        state["stop"] = stop = asyncio.Event()
        state["app"], state["loop"] = app, asyncio.get_running_loop()
        try:
            await web.SockSite(runner, sock).start()
            ready.set()
            await stop.wait()
        finally:
            await runner.cleanup()

    def main() -> None:
        try:
            asyncio.run(serve())
        except BaseException as exc:  # shown to the test, which would otherwise wait for a server that never came
            state["error"] = exc
            ready.set()

    thread = threading.Thread(target=main, name="live-app", daemon=True)
    thread.start()
    if not ready.wait(START_TIMEOUT_S) or "error" in state:
        raise RuntimeError(f"the app did not start: {state.get('error')!r}")
    loop: asyncio.AbstractEventLoop = state["loop"]
    try:
        yield LiveApp(f"http://127.0.0.1:{port}", state["app"], loop)
    finally:
        loop.call_soon_threadsafe(state["stop"].set)
        thread.join(START_TIMEOUT_S)
