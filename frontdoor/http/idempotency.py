"""The `Idempotency-Key` request header (IETF httpapi draft): how a client names its retries.

An answer lost to a 503, a timeout or a dropped connection leaves the client unsure whether its
report was stored. With the same key on the retry, frontdoor answers what it answered the first time
and stores nothing new (POST /api/v1/reports; the chat widget sends one with every turn).

The draft makes the value a Structured Field string, `"8e03978e-40d5-43e8-bc93-6894a57f9324"`; the
bare form many clients send (Stripe's) is taken too, and both name the same key. We have no client
identity to scope keys by, so a key must be hard to guess: at least 16 characters (a UUID is 36),
printable ASCII, at most 255. The key itself is never stored: the intake keeps a keyed pseudonym.
"""

from __future__ import annotations

import re

from aiohttp import web

from ..errors import FrontdoorError, InvalidInput

HEADER = "Idempotency-Key"
MIN_CHARS, MAX_CHARS = 16, 255
# For the OpenAPI document: the quoted (sf-string, with its two escapes) or the bare form.
PATTERN = (r'^("([\x20\x21\x23-\x5B\x5D-\x7E]|\\["\\]){16,255}"|'
           r'[\x21\x23-\x5B\x5D-\x7E]{16,255})$')
_QUOTED = re.compile(r'"((?:[\x20\x21\x23-\x5B\x5D-\x7E]|\\["\\])*)"')
_BARE = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")
_UNESCAPE = re.compile(r"\\([\"\\])")


def idempotency_key(request: web.Request) -> str | None:
    """The key the client sent, unquoted; None without one; InvalidInput (400) for a bad one."""
    values = request.headers.getall(HEADER, [])
    if not values:
        return None
    if len(values) > 1:
        raise InvalidInput(f"Send one {HEADER} header, not {len(values)}.", code="invalid_idempotency_key")
    raw = values[0].strip()
    quoted = _QUOTED.fullmatch(raw)
    key = _UNESCAPE.sub(r"\1", quoted.group(1)) if quoted else raw if _BARE.fullmatch(raw) else None
    if key is None or not MIN_CHARS <= len(key) <= MAX_CHARS:
        raise InvalidInput(f"{HEADER} must be a string of {MIN_CHARS} to {MAX_CHARS} printable ASCII characters, "
                           'such as "8e03978e-40d5-43e8-bc93-6894a57f9324".', code="invalid_idempotency_key")
    return key


class KeyReused(FrontdoorError):
    """The draft's 422: the key named another submission. Its receipt is not shown: a key guessed or
    reused must not reveal someone else's report."""

    code = "idempotency_key_reused"
    status = 422

    def __init__(self) -> None:
        super().__init__(f"This {HEADER} was used for a different report. Send a new key with a new report.")
