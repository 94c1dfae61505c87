"""The channel contract: what a way in for reporters is to the rest of frontdoor.

A channel turns its transport into the dialog's turns (or, for the form, the API and e-mail,
straight into submissions for the intake), and the dialog's channel-neutral messages into its own
form: HTML, an SMTP reply, a Telegram message with buttons. It is given what it needs explicitly
when the app factory builds it (frontdoor/app.py, `CHANNELS`): the dialog, the intake, the outbox,
the rate limiter, its own settings section; it reaches for nothing else.

Three things are asked of it, and they are all the app factory and the outbox sender ever call:

- `routes()`: the HTTP routes it serves (pages, an API, a provider's webhook); none for e-mail.
- `running()`: what runs beside the HTTP server while the app runs (the SMTP server, a provider's
  webhook registration), entered on start-up and left on shutdown.
- `deliver(message)`: send one message the outbox holds (an auto-reply, a reply to a webhook) and
  return once the provider accepted it. Raise `DeliveryFailed` when it may work later (it is retried
  with backoff) and `Undeliverable` when it never will (it goes to the dead letters). A channel
  that answers only within the request (the web chat and form) puts nothing in the outbox; its
  `deliver` raises `Undeliverable`, so a stray message would show up in the dead letters.

A channel whose requests come from a provider's servers (a webhook) acknowledges only what is stored:
it answers 200 once the inbound's turn is committed and its reply is in the outbox, and anything
else (Redis down) gets a 5xx so the provider delivers again; `channels.messaging.MessagingInbox`
does that part for every such channel. docs/channels.md walks through adding one.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from aiohttp import web

from ..outbox import DeliveryFailed, Outbound, Undeliverable

__all__ = ["Channel", "DeliveryFailed", "Outbound", "Undeliverable", "answers_in_request"]


class Channel(Protocol):
    def routes(self) -> Sequence[web.AbstractRouteDef]: ...

    def running(self) -> AbstractAsyncContextManager[None]: ...

    async def deliver(self, message: Outbound) -> None: ...


def answers_in_request(channel: str) -> Undeliverable:
    """What `deliver` raises in a channel that has nothing to send later."""
    return Undeliverable(f"the {channel} channel answers within the request and sends nothing later")
