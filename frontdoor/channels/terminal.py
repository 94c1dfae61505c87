"""The terminal channel: `frontdoor chat` walks the dialog at a prompt, choices numbered.

The smallest possible channel, and the model for the others: it turns lines into `Inbound`s
and `Message`s into text. Nothing about the dialog is decided here.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable
from typing import TextIO

from ..dialog import i18n
from ..dialog.engine import Dialog
from ..dialog.messages import ConversationKey, Inbound, Message, Turn

CHANNEL = "terminal"


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


async def chat(dialog: Dialog, *, read: Callable[[], str] | None = None, out: TextIO = sys.stdout,
               locale_hint: str | None = None) -> Turn:
    """Run one conversation until it closes or input ends; returns the last turn."""
    key = ConversationKey(CHANNEL, secrets.token_hex(16))  # a fresh, random sender per session
    reader = read or (lambda: input("> "))
    turn = await dialog.start(key, locale_hint=locale_hint)
    while True:
        text, numbers = render(turn.messages, turn.locale)
        print(text, file=out, flush=True)
        if turn.status == "closed":
            return turn
        try:
            line = reader()
        except (EOFError, KeyboardInterrupt):
            return turn
        if not line.strip():
            continue
        turn = await dialog.turn(key, inbound_for(line, numbers))
