"""The requests' shared deadline timer (frontdoor/api/deadlines.py) behaves as asyncio.timeout does."""

from __future__ import annotations

import asyncio

import pytest

from frontdoor.http.deadlines import Deadlines


async def test_a_late_block_raises_timeout_error_and_a_prompt_one_is_left_alone():
    deadlines = Deadlines(0.2, tick_s=0.02)
    loop = asyncio.get_running_loop()

    async def late() -> None:
        async with deadlines.bound():
            await asyncio.sleep(5)

    async def prompt() -> str:
        async with deadlines.bound():
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # past the deadline, but outside the block
        return "done"

    began = loop.time()
    results = await asyncio.gather(late(), prompt(), return_exceptions=True)
    assert isinstance(results[0], TimeoutError) and results[1] == "done"
    assert 0.2 <= loop.time() - began < 2
    await asyncio.sleep(0.05)
    assert deadlines._timer is None and not deadlines._running and not deadlines._cut  # nothing left ticking


async def test_someone_elses_cancellation_stays_a_cancellation():
    deadlines = Deadlines(10, tick_s=0.02)

    async def waits() -> None:
        async with deadlines.bound():
            await asyncio.sleep(5)

    task = asyncio.create_task(waits())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not deadlines._running


async def test_an_error_inside_the_block_passes_through():
    deadlines = Deadlines(10)
    with pytest.raises(KeyError):
        async with deadlines.bound():
            raise KeyError("x")
    assert not deadlines._running
