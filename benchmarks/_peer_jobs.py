"""No-op jobs for the peer queues in queue_bench.py.

They live in their own module because rq records a job's function by import path and
its worker imports it again; queue_bench.py puts benchmarks/ on sys.path so
`_peer_jobs.rq_noop` resolves in the in-process worker.
"""

from __future__ import annotations

from typing import Any


def rq_noop() -> None:
    """rq job: does nothing, so the measurement is rq's own enqueue/dequeue/bookkeeping."""


async def arq_noop(ctx: dict[str, Any]) -> None:
    """arq job: does nothing, for the same reason."""
