"""An outbound SMTP relay for tests: a real aiosmtpd server that records what it takes.

It can refuse (451) for a while, and hold one message in the middle of its DATA until the test lets
go, so a test can kill a sender exactly while a message is on its way.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller

from .servers import free_port


class Relay:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.refusing = 0  # answer this many messages 451
        self.refused = 0
        self.hold_at: int | None = None  # the n-th message (from 1) waits in DATA until `release()`
        self.holding = threading.Event()  # set while it waits
        self._released = threading.Event()
        self._seen = 0
        self.port = 0

    def release(self) -> None:
        self._released.set()

    def message_ids(self) -> list[str]:
        return [BytesParser(policy=default_policy).parsebytes(raw)["Message-ID"] for _, _, raw in self.messages]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self._seen += 1
        if self._seen == self.hold_at:
            self.holding.set()
            # Only this session waits; the others go on. (Blocking the relay's loop would leave other
            # sessions' finished DATA unread until release, then take it from a sender already dead:
            # a reply accepted whose acknowledgement never came, which is delivered again, by design.)
            await asyncio.to_thread(self._released.wait, 30)
            return "451 4.3.0 Not taken: the sender went away"
        if self.refusing > 0:
            self.refusing -= 1
            self.refused += 1
            return "451 4.3.0 Try again later"
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


@contextmanager
def running_relay() -> Iterator[Relay]:
    relay = Relay()
    relay.port = free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=relay.port)
    controller.start()
    try:
        yield relay
    finally:
        relay.release()
        controller.stop()
