"""A messaging channel for tests, built the way Telegram, WhatsApp and SMS will be: one small module on
the channel contract (channels/base.py) and the shared inbound flow (channels/messaging.py).

Its "provider" is a local aiohttp server with a documented-looking API of its own: it calls our
webhook with `{"update_id", "from", "text"}` (or `"payload"`) and a shared secret header, and takes our
replies at `POST /send` (`{"to", "text", "buttons"}`), answering 200, or what the test tells it to.
"""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiohttp
from aiohttp import web

from frontdoor.channels.messaging import MessagingInbox, message_of
from frontdoor.dialog.engine import Dialog
from frontdoor.dialog.messages import Inbound
from frontdoor.http.ratelimit import RateLimiter
from frontdoor.outbox import DeliveryFailed, Outbound, Outbox, Undeliverable

CHANNEL = "loopback"
SECRET_HEADER = "X-Loopback-Secret"


class LoopbackChannel:
    def __init__(self, dialog: Dialog, outbox: Outbox, limiter: RateLimiter, *, secret: str, provider_url: str) -> None:
        self._inbox = MessagingInbox(CHANNEL, dialog, outbox, limiter)
        self._secret = secret
        self._provider_url = provider_url
        self._session: aiohttp.ClientSession | None = None

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return [web.post(f"/channels/{CHANNEL}/webhook", self.webhook)]

    def running(self) -> AbstractAsyncContextManager[None]:
        return self._client()

    @contextlib.asynccontextmanager
    async def _client(self) -> Any:
        async with aiohttp.ClientSession() as session:
            self._session = session
            yield
            self._session = None

    async def webhook(self, request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.headers.get(SECRET_HEADER, ""), self._secret):
            return web.json_response({"error": "forbidden", "message": "Not from the provider."}, status=403)
        update = await request.json()
        inbound = (Inbound(payload=update["payload"], message_id=str(update["update_id"])) if "payload" in update
                   else Inbound(text=update["text"], message_id=str(update["update_id"])))
        await self._inbox.receive(update["from"], inbound)  # raises (a 5xx) unless the reply is stored
        return web.json_response({"ok": True})

    async def deliver(self, message: Outbound) -> None:
        assert self._session is not None, "deliver runs only while the channel runs"
        shown, _ = message_of(message.body)
        payload = {"to": message.recipient, "text": shown.text, "buttons": [q.payload for q in shown.quick_replies],
                   "idempotency_key": message.id}
        async with self._session.post(f"{self._provider_url}/send", json=payload) as response:
            if response.status == 403:
                raise Undeliverable("the provider says the recipient blocked us (403)")
            if response.status != 200:
                raise DeliveryFailed(f"the provider answered {response.status}")


class Provider:
    """The provider's side: takes our replies, and can refuse them for a while."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.refusing = 0

    async def send(self, request: web.Request) -> web.Response:
        if self.refusing > 0:
            self.refusing -= 1
            return web.json_response({"ok": False}, status=502)
        self.sent.append(await request.json())
        return web.json_response({"ok": True})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/send", self.send)
        return app

    def texts_to(self, recipient: str) -> list[str]:
        return [m["text"] for m in self.sent if m["to"] == recipient]
