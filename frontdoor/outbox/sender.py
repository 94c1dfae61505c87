"""The sender: takes what the outbox holds and hands each message to the channel that delivers it.

Every process runs one for the channels it runs; they share the work through the consumer group.
Messages to one recipient go in the order they were put, one after the other (a chat's replies
must not overtake each other); different recipients are served side by side. When one message to a
recipient fails, the rest of that recipient's messages in the batch wait for the next round, so
they do not overtake it either.

A channel's `deliver` returns once the provider accepted the message; raises `DeliveryFailed` (or a
network error) when it may work later, and `Undeliverable` when it never will (a recipient who blocked
the bot): that one goes to the dead letters at once. What a failure is logged and buried with is the
exception's type or the channel's own short reason, never the message or its recipient.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping
from typing import Protocol

from ..storage.client import UNAVAILABLE, honour_cancellation
from .stream import Outbound, Outbox

log = logging.getLogger(__name__)
BATCH = 20
CONCURRENCY = 8  # recipients served at once
DELIVERY_TIMEOUT_S = 30.0  # one provider call; past it the attempt counts as failed


class DeliveryFailed(Exception):
    """The provider did not take the message now; try again later. `reason` is logged: keep it free
    of anything about the message or its recipient ("relay answered 451", "HTTP 502")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Undeliverable(DeliveryFailed):
    """The provider will never take this message (the recipient blocked us, the address is invalid)."""


class Deliverer(Protocol):
    async def deliver(self, message: Outbound) -> None: ...


class OutboxSender:
    def __init__(self, outbox: Outbox, channels: Mapping[str, Deliverer], *, batch: int = BATCH,
                 concurrency: int = CONCURRENCY) -> None:
        self._outbox = outbox
        self._channels = dict(channels)
        self._batch = batch
        self._slots = asyncio.Semaphore(concurrency)
        # A name in the consumer group for this process's sender: random, never a host name or pid.
        self.consumer = f"sender-{secrets.token_hex(6)}"
        self._redis_down = False

    async def run(self) -> None:
        """Until cancelled. A stopped Redis is one warning, and one line when it is back. The consumer
        groups are made by the first `take` that misses them, so a Redis down at start-up is no different."""
        poll_ms = int(self._outbox.settings.poll_s * 1000)
        while True:
            honour_cancellation()
            try:
                await self.send_once(block_ms=poll_ms)
                if self._redis_down:
                    self._redis_down = False
                    log.warning("outbox: redis reachable again; sending")
            except UNAVAILABLE:  # TimeoutError included: it is an OSError
                if not self._redis_down:
                    self._redis_down = True
                    log.warning("outbox: redis unavailable; nothing is lost, sending resumes when it is back")
                await asyncio.sleep(self._outbox.settings.poll_s)
            except Exception as exc:  # the sender must keep running; what it held stays pending
                log.error("outbox: sending failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(self._outbox.settings.poll_s)

    async def send_once(self, *, block_ms: int | None = None) -> int:
        """One batch; how many messages the providers took."""
        messages = await self._outbox.take(list(self._channels), self.consumer, count=self._batch, block_ms=block_ms or 0)
        queues: dict[tuple[str, str], list[Outbound]] = {}
        for message in messages:
            queues.setdefault((message.channel, message.recipient), []).append(message)
        results = await asyncio.gather(*(self._send_in_order(q) for q in queues.values()), return_exceptions=True)
        for result in results:  # every recipient's turn ran to its end; now the first error, if any
            if isinstance(result, BaseException):
                raise result
        return sum(r for r in results if isinstance(r, int))

    async def _send_in_order(self, messages: list[Outbound]) -> int:
        sent = 0
        async with self._slots:
            for message in messages:
                outcome = await self._send(message)
                if outcome == "failed":
                    break  # the rest wait for the next round, behind this one
                sent += outcome == "sent"
        return sent

    async def _send(self, message: Outbound) -> str:
        """"sent", "buried" (done with, for good) or "failed" (pending, for another attempt)."""
        channel = self._channels[message.channel]
        try:
            async with asyncio.timeout(DELIVERY_TIMEOUT_S):
                await channel.deliver(message)
        except Undeliverable as exc:
            await self._outbox.bury(message.channel, message.id, message.attempt, exc.reason)
            return "buried"
        except DeliveryFailed as exc:
            return await self._failed(message, exc.reason)
        except Exception as exc:  # a network error, a timeout, or a bug in the channel: try again later
            return await self._failed(message, type(exc).__name__)
        await self._outbox.done(message)
        return "sent"

    async def _failed(self, message: Outbound, reason: str) -> str:
        if await self._outbox.failed(message, reason):
            return "buried"
        log.info("outbox: a %s message failed (%s), attempt %d; next in %d s", message.channel, reason,
                 message.attempt, self._outbox.backoff_ms(message.attempt) // 1000)
        return "failed"
