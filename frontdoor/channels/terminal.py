"""The terminal channel: `frontdoor chat` walks the dialog at a prompt, choices numbered.

The smallest possible channel, and the model for the others (docs/channels.md walks through it): it
turns lines into `Inbound`s and `Message`s into text. Nothing about the dialog is decided here. It
serves no routes, runs nothing beside the app, and answers every line at once, so it has nothing
for the outbox to deliver later.
"""

from __future__ import annotations

import contextlib
import secrets
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TextIO

from aiohttp import web

from ..dialog import i18n
from ..dialog.engine import Dialog
from ..dialog.messages import ConversationKey, Inbound, Message, Turn
from ..outbox import Outbound
from .base import answers_in_request

CHANNEL = "terminal"


class TerminalChannel:
    def __init__(self, dialog: Dialog, *, read: Callable[[], str] | None = None, out: TextIO = sys.stdout) -> None:
        self._dialog = dialog
        self._read = read or (lambda: input("> "))
        self._out = out

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return ()

    def running(self) -> AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()

    async def deliver(self, message: Outbound) -> None:
        raise answers_in_request(CHANNEL)

    async def converse(self, *, locale_hint: str | None = None) -> Turn:
        """One conversation, until it closes or input ends; the last turn."""
        key = ConversationKey(CHANNEL, secrets.token_hex(16))  # a fresh, random sender per session
        turn = await self._dialog.start(key, locale_hint=locale_hint)
        while True:
            text, numbers = render(turn.messages, turn.locale)
            print(text, file=self._out, flush=True)
            if turn.status == "closed":
                return turn
            try:
                line = self._read()
            except (EOFError, KeyboardInterrupt):
                return turn
            if not line.strip():
                continue
            turn = await self._dialog.turn(key, inbound_for(line, numbers))


def render(messages: list[Message], locale: str = "en") -> tuple[str, dict[str, str]]:
    """Text for the screen, and what each number the reporter may type stands for."""
    lines: list[str] = []
    numbers: dict[str, str] = {}
    for message in messages:
        lines.append(message.text)
        for card in message.resources:
            lines.append(f"  * {card.title}: {card.body}")
            if card.url:
                lines.append(f"    {card.url}")
            if card.phone_display:
                lines.append(f"    {i18n.text(locale, 'label.phone')}: {card.phone_display}")
        for i, reply in enumerate(message.quick_replies, start=1):
            numbers[str(i)] = reply.payload
            lines.append(f"  {i}. {reply.title}")
    return "\n".join(lines), numbers


def inbound_for(line: str, numbers: dict[str, str]) -> Inbound:
    line = line.strip()
    if line in numbers:
        return Inbound(payload=numbers[line])
    return Inbound(text=line)
