"""The one place where exceptions become HTTP: a uniform `{"error", "message"}` body.

A malformed request is never a 500, and a 500 never echoes the request (it may be a report).
It is also where each request's deadline lives: a request that takes longer than the configured
timeout as a whole (a Redis that answers, but slowly) is cancelled and answered 503.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from ..errors import FrontdoorError, InvalidInput, RateLimited, UnsupportedMediaType
from ..storage.client import UNAVAILABLE
from ..storage.outages import Outages

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_reply(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """Every JSON answer: orjson writes a chat turn's reply in a fraction of json.dumps's time."""
    return web.Response(body=orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS), status=status, headers=headers,
                        content_type="application/json", charset="utf-8")


def json_error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return json_reply({"error": code, "message": message}, status=status, headers=headers or None)


# Deeper than any document we take (a report is 3 levels, an assessment 4): jsonschema explains a
# refusal recursively, and a body nested about 1,000 deep exhausts the stack while it does.
MAX_JSON_DEPTH = 32

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
               413: "too_large", 415: "unsupported_media_type"}


UNAVAILABLE_MESSAGE = "The service cannot store or read reports right now. Please try again in a few minutes."


Guard = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


def error_guard(deadline_s: float, outages: Outages | None = None) -> Guard:
    """Exceptions to JSON errors, and a deadline for the request as a whole (body, Redis, reply):
    past it the request is cancelled and answered 503 like a Redis that is down. Not a middleware of
    its own: the security middleware calls it (http/security.py), one layer fewer on every request.
    A Redis outage is `outages`' to log, once (storage/outages.py); each 503 of it only at DEBUG."""

    async def guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            async with asyncio.timeout(deadline_s):
                return await handler(request)
        except FrontdoorError as exc:
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
            if isinstance(exc, RateLimited):
                headers["Retry-After"] = str(exc.retry_after_s)
            return json_error(exc.status, exc.code, exc.message, **headers)
        except web.HTTPRequestEntityTooLarge as exc:
            return json_error(413, "too_large", too_large_message(request, exc))
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            code = _HTTP_CODES.get(exc.status, "http_error")
            message = exc.reason if exc.status != 404 else "There is nothing at this address."
            headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else {}
            return json_error(exc.status, code, message, **headers)
        except TimeoutError:  # the deadline passed (checked before UNAVAILABLE: a TimeoutError is an OSError)
            level = logging.WARNING
            if outages is not None:
                outages.suspect()  # a Redis that stalls: the probe asks it, and an outage is logged once
                level = logging.DEBUG if outages.down else level
            log.log(level, "deadline of %g s passed: %s %s answered 503", deadline_s, request.method, _route(request))
            return json_error(503, "unavailable", UNAVAILABLE_MESSAGE, **{"Retry-After": "30"})
        except UNAVAILABLE as exc:  # Redis (one node or a cluster) cannot answer now
            if outages is not None:
                outages.failed(exc)
            log.log(logging.DEBUG if outages is not None else logging.WARNING, "redis unavailable: %s %s answered 503",
                    request.method, _route(request))
            return json_error(503, "unavailable", UNAVAILABLE_MESSAGE, **{"Retry-After": "30"})
        except Exception as exc:
            # The exception's message may quote what was sent (a report): log its type and where it
            # was raised, never its text.
            log.error("unhandled %s on %s %s\n%s", type(exc).__name__, request.method, _route(request),
                      "".join(traceback.format_tb(exc.__traceback__)))
            return json_error(500, "internal", "Something went wrong on our side. Nothing you sent was kept.")

    return guarded


def too_large_message(request: web.Request, exc: web.HTTPRequestEntityTooLarge) -> str:
    """One sentence of ours with the limit, not aiohttp's text inside ours ("(Maximum request body
    size 65536 exceeded.)."). A form with too many fields is the one 413 that is not about bytes;
    aiohttp tells it apart only in its text."""
    if "form fields" in (exc.text or ""):
        return f"The form has more than {request.client_max_fields:,} fields, the most this service accepts."
    limit = request.client_max_size
    size = f"{limit:,} bytes" + (f" ({limit // 1024:,} KiB)" if limit % 1024 == 0 and limit >= 1024 else "")
    return f"The request body is larger than {size}, the most this service accepts."


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "-"


async def read_json(request: web.Request) -> Any:
    """The body as JSON, or a 4xx that says what is wrong with it."""
    declared = request.headers.get("Content-Type", "")
    # The usual forms decided at once; anything else as aiohttp parses it (case, spaces, parameters).
    usual = declared in ("application/json", "application/json; charset=utf-8")
    if not usual and request.content_type != "application/json":
        raise UnsupportedMediaType("Send the body as JSON with Content-Type: application/json.")
    raw = await request.read()  # enforces client_max_size (413)
    try:
        # orjson, unlike json.loads, refuses what would fail later, when stored: lone surrogates
        # ("\ud800" is valid JSON but no text), bytes that are not UTF-8 (UTF-16 bodies included),
        # NaN and infinities; and nesting deeper than 1,024.
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"The body is not valid JSON: {exc}", code="malformed_json") from None
    if too_deep(body, MAX_JSON_DEPTH):
        raise InvalidInput(f"The body nests arrays and objects more than {MAX_JSON_DEPTH} deep; none of ours needs that.",
                           code="too_deep")
    return body


def too_deep(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest in `value` more than `limit` deep, found without recursion
    (the point is not to recurse on what a stranger sent) and looking at containers only."""
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def read_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput("The body must be a JSON object.", code="invalid_type")
    return body
