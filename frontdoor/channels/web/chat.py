"""The web channel: the conversation API the chat widget talks to, and the widget itself.

A conversation's only key is a random token the widget holds in memory (no cookies); the
token is hashed before it reaches Redis, like any sender id. The widget's files are static and
served from here, so a hotline embeds the chat with one script tag; the sample page that shows it
(`/`, templates/demo.html) is rendered with the hotline's name, the one setting every page uses.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from ...dialog.engine import ConversationNotFound, Dialog
from ...dialog.messages import ConversationKey, Inbound, Turn
from ...errors import InvalidInput
from ...http.errors import json_reply, read_json, read_object
from ...http.idempotency import idempotency_key
from ...http.ratelimit import RequestLimits
from ...outbox import Outbound
from ...settings import HotlineSettings
from ..base import answers_in_request

CHANNEL = "web"
STATIC = Path(__file__).parent / "static"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
MAX_TEXT_CHARS = 10_000
_CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
SERVED = {"/widget.js": "widget.js", "/widget.css": "widget.css", "/demo.css": "demo.css", "/form.css": "form.css"}


def _body(turn: Turn) -> dict[str, Any]:
    # orjson writes the Message dataclasses as Message.as_dict would, field by field, in C.
    return {"messages": turn.messages, "state": turn.status, "receipt": turn.receipt, "locale": turn.locale}


class WebChat:
    """The chat widget's API: one request is one turn, answered in its response."""

    def __init__(self, dialog: Dialog, limits: RequestLimits, hotline: HotlineSettings) -> None:
        self._dialog = dialog
        self._limits = limits
        self._hotline = hotline
        self._assets = _assets()

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        served = [web.get(route, _serve(asset)) for route, asset in self._assets.items()]
        return [web.post("/api/v1/conversations", self.start_conversation),
                web.post("/api/v1/conversations/{token}/messages", self.post_message), web.get("/", self.sample_page),
                *served]

    def running(self) -> AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()

    async def deliver(self, message: Outbound) -> None:
        raise answers_in_request(CHANNEL)

    async def sample_page(self, request: web.Request) -> web.Response:
        name = self._hotline.name
        initials = "".join(word[0] for word in name.split()[:2]).upper() or name[:2]
        response = aiohttp_jinja2.render_template("web/demo.html", request, {"hotline": name, "initials": initials})
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    async def start_conversation(self, request: web.Request) -> web.Response:
        await self._limits.admit(request, "conversations")
        body: dict[str, Any] = {}
        if request.can_read_body:
            body = read_object(await read_json(request))
        if set(body) - {"locale"} or not isinstance(body.get("locale", ""), str) or len(body.get("locale", "")) > 35:
            raise InvalidInput('Send {} or {"locale": "de"}.', code="invalid_field")
        token = secrets.token_urlsafe(32)
        hint = body.get("locale") or request.headers.get("Accept-Language")
        turn = await self._dialog.start(ConversationKey(CHANNEL, token), locale_hint=hint)
        return json_reply({"conversation": token, **_body(turn)}, status=201)

    async def post_message(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if not _TOKEN_RE.match(token):
            raise ConversationNotFound("This conversation has ended or expired. Please start a new one.")
        await self._limits.admit(request, "messages")
        body = read_object(await read_json(request))
        if len(body) != 1 or not ({"text", "payload"} & set(body)):
            raise InvalidInput('Send {"text": "..."} or {"payload": "..."}.', code="invalid_field")
        (field, value), = body.items()
        if not isinstance(value, str):
            raise InvalidInput(f"{field}: must be a string", code="invalid_type")
        if len(value) > MAX_TEXT_CHARS:
            raise InvalidInput(f"{field}: at most {MAX_TEXT_CHARS:,} characters", code="too_long")
        # The widget names each turn (Idempotency-Key) and sends the same name when it retries: the
        # dialog then answers a turn it took already as it did then (the receipt of a report stored
        # just before a 503), instead of taking it as the next answer.
        turn_id = idempotency_key(request)
        inbound = Inbound(text=value, message_id=turn_id) if field == "text" else Inbound(payload=value, message_id=turn_id)
        turn = await self._dialog.turn(ConversationKey(CHANNEL, token), inbound, start_if_missing=False)
        return json_reply(_body(turn))


@dataclass(frozen=True)
class _Asset:
    body: bytes
    content_type: str
    etag: str


def _assets() -> dict[str, _Asset]:
    assets = {}
    for route, name in SERVED.items():  # part of the package: a missing file fails start-up
        body = (STATIC / name).read_bytes()
        assets[route] = _Asset(body, _CONTENT_TYPES[Path(name).suffix], '"' + hashlib.sha256(body).hexdigest()[:20] + '"')
    return assets


def _serve(asset: _Asset) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        headers = {"ETag": asset.etag, "Cache-Control": "public, max-age=300"}
        if request.headers.get("If-None-Match") == asset.etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=asset.body, content_type=asset.content_type, charset="utf-8", headers=headers)

    return handler
