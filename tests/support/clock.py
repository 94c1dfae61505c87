"""A clock a test moves by hand, for the parts that take one (`clock_ms=`): the queue, the outbox."""

from __future__ import annotations


class Clock:
    def __init__(self, ms: int = 1_800_000_000_000) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms
