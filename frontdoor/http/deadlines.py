"""A deadline for every request, kept by one timer per app rather than one per request.

`asyncio.timeout` arms and cancels a timer for each request: a few microseconds each time, and the
loop's timer heap holding every request in flight. A deadline of seconds needs no such precision:
here each request is entered in a dict, and one tick (a tenth of the deadline, at most half a second)
cancels those past it, which then raise TimeoutError just as under `asyncio.timeout`, at most one tick
late. Nothing is scheduled while no request is running.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class Deadlines:
    def __init__(self, seconds: float, *, tick_s: float | None = None) -> None:
        self.seconds = seconds
        self.tick_s = tick_s if tick_s is not None else min(0.5, seconds / 10)
        self._running: dict[asyncio.Task[object], float] = {}  # task -> when it is due (loop time)
        self._cut: set[asyncio.Task[object]] = set()  # cancelled by us, not yet out of their block
        self._timer: asyncio.TimerHandle | None = None

    def bound(self) -> Bound:
        """`async with deadlines.bound():` the block in the current task, cut off `seconds` from now."""
        return Bound(self)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for task, due in list(self._running.items()):
            if due <= now and task not in self._cut:
                self._cut.add(task)
                task.cancel()
        self._timer = loop.call_later(self.tick_s, self._tick, loop) if self._running else None


class Bound:
    __slots__ = ("_deadlines", "_task", "_cancelling")

    def __init__(self, deadlines: Deadlines) -> None:
        self._deadlines = deadlines

    async def __aenter__(self) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a deadline needs a task")
        deadlines, loop = self._deadlines, task.get_loop()
        self._task, self._cancelling = task, task.cancelling()
        deadlines._running[task] = loop.time() + deadlines.seconds
        if deadlines._timer is None:
            deadlines._timer = loop.call_later(deadlines.tick_s, deadlines._tick, loop)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        """As asyncio.Timeout does: our own cancellation becomes TimeoutError, anyone else's stays."""
        deadlines, task = self._deadlines, self._task
        del deadlines._running[task]
        if task in deadlines._cut:
            deadlines._cut.discard(task)
            if task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
                raise TimeoutError from exc
