"""Response headers every page and API answer carries, and CORS for the widget's API.

The CSP allows nothing inline and nothing from elsewhere: the widget and the no-JavaScript
form are files we serve. CORS answers only the origins a hotline configured (plus our own),
so a page elsewhere cannot run conversations through a visitor's browser.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from ..settings import WebSettings
from .errors import Guard, json_reply

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CORS_PATHS = ("/api/v1/conversations",)
# Files other sites embed: the browser must be allowed to load them cross-origin.
EMBEDDABLE = ("/widget.js", "/widget.css")


def csp(frame_ancestors: str) -> str:
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            f"form-action 'self'; base-uri 'none'; frame-ancestors {frame_ancestors}")


def security_middleware(settings: WebSettings, inner: Guard) -> Middleware:
    """The app's one middleware: preflights answered, the handler run through `inner` (the error
    guard, http/errors.py), and the headers set on whatever comes back."""
    policy = csp(settings.frame_ancestors)
    allowed = set(settings.origins)

    permissions = "camera=(), microphone=(), geolocation=(), interest-cohort=()"

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        chat_api = path.startswith(CORS_PATHS)
        origin = request.headers.get("Origin") if chat_api else None
        cors = origin is not None and _allowed(origin, request, allowed)
        if chat_api and request.method == "OPTIONS":
            if not cors:
                response: web.StreamResponse = json_reply(
                    {"error": "origin_not_allowed", "message": "This site may not use the reporting chat."}, status=403)
            else:
                response = web.Response(status=204, headers={
                    "Access-Control-Allow-Methods": "POST, OPTIONS",
                    "Access-Control-Allow-Headers": "Content-Type, Idempotency-Key",  # the widget names its turns
                    "Access-Control-Max-Age": "600"})
        else:
            response = await inner(request, handler)
        headers = response.headers
        if cors:
            headers["Access-Control-Allow-Origin"] = origin  # type: ignore[assignment]
            headers["Access-Control-Expose-Headers"] = "Retry-After"
        if chat_api:
            headers["Vary"] = "Origin"
        headers.setdefault("Content-Security-Policy", policy)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("Permissions-Policy", permissions)
        headers.setdefault("Cross-Origin-Resource-Policy", "cross-origin" if path in EMBEDDABLE else "same-origin")
        if path.startswith(("/api/", "/report")):
            headers.setdefault("Cache-Control", "no-store")
        return response

    return middleware


def _allowed(origin: str, request: web.Request, allowed: set[str]) -> bool:
    own = f"{request.scheme}://{request.host}"
    return origin == own or origin in allowed
