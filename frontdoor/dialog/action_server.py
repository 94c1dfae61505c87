"""`frontdoor actions`: the dialog's actions served to a Rasa assistant, over rasa-sdk's webhook.

rasa-sdk's own `endpoint.run` listens on 0.0.0.0 (or $SANIC_HOST) without any authentication, so
whoever reaches it submits reports past every rate limit; it starts Sanic's worker manager, a
second process whose logging nobody configured and which was seen spinning after SIGTERM; and it
looks for an endpoints.yml (tracing) the hotline never needed. Here the app is still rasa-sdk's
(`endpoint.create_app`: its /webhook, /health and /actions), served by Sanic in this one process
(`single_process`: SIGTERM and SIGINT stop it), on loopback unless asked otherwise, and with a
shared token required on every request but /health whenever one is configured. Off loopback a
token is required: the command refuses to start without one.
"""

from __future__ import annotations

import hmac
import signal
from types import FrameType
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..settings import is_loopback

if TYPE_CHECKING:
    from sanic import HTTPResponse, Request, Sanic

    from ..settings import Settings

OPEN_PATHS = frozenset({"/health"})  # a liveness probe learns nothing and changes nothing


def presented_token(request: Request) -> str | None:
    """What Rasa sends: `Authorization: Bearer <token>` (endpoints.yml `headers:`), or the `token`
    query parameter (endpoints.yml `token:`, Rasa's own way to authenticate to an endpoint)."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return str(header[7:].strip())
    token = request.args.get("token")
    return str(token) if token is not None else None


def make_app(token: str | None) -> Sanic:
    from rasa_sdk import endpoint
    from rasa_sdk.executor import ActionExecutor
    from sanic import response

    from .actions import registered

    executor = ActionExecutor()
    # Each action builds its services (Redis, the intake) from the environment on first use, inside
    # Sanic's event loop (app.action_context_from_env).
    for action in registered():
        executor.register_action(action)
    app = endpoint.create_app(executor, cors_origins="")  # Rasa calls from a server: no browser, no CORS
    expected = token.encode() if token else None

    async def require_token(request: Request) -> HTTPResponse | None:
        if expected is None or request.path in OPEN_PATHS:
            return None
        given = presented_token(request)
        if given is not None and hmac.compare_digest(given.encode(), expected):
            return None
        return response.json({"error": "unauthorized", "message": "Send the shared token (FRONTDOOR_ACTIONS_TOKEN)."},
                             status=401, headers={"WWW-Authenticate": "Bearer"})

    async def hide_failures(request: Request, answer: HTTPResponse) -> HTTPResponse | None:
        # rasa-sdk's error handler answers a failed action with the request's body: never a report.
        if answer.status >= 500:
            return response.json({"error": "internal", "message": "The action failed. Nothing sent was kept."},
                                 status=answer.status)
        return None

    app.on_request(require_token)
    app.on_response(hide_failures)
    return app


def serve(settings: Settings, host: str, port: int) -> None:
    if settings.redis_url is None:
        raise ConfigError("FRONTDOOR_REDIS_URL must be set for `frontdoor actions` (the actions submit to the queue)")
    if settings.actions_token is None and not is_loopback(host):
        raise ConfigError(f"FRONTDOOR_ACTIONS_TOKEN must be set to serve the actions on {host}: anyone who reaches "
                          "the action server could submit reports (or use --host 127.0.0.1)")
    app = make_app(settings.actions_token)
    # Sanic installs its SIGTERM handler only once the socket already answers: a SIGTERM before
    # that (a service manager changing its mind) must stop it cleanly too, not kill it.
    signal.signal(signal.SIGTERM, _stop_during_start_up)
    app.run(host=host, port=port, single_process=True, access_log=False, motd=False)


def _stop_during_start_up(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
