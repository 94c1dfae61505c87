"""`create_app(settings)`: the aiohttp application and everything it owns.

Long-lived pieces (the Redis pool, the queue, housekeeping) start and stop through
cleanup_ctx; handlers reach them through typed AppKeys, never globals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from .channels.web import chat as web_channel
from .channels.web import form as web_form
from .channels.email.server import smtp_channel
from .queue.retention import purge_expired
from .storage.client import UNAVAILABLE
from .settings import Settings
from .api import analyst, public
from .api.auth import ANALYSTS_KEY
from .http.errors import error_guard
from .http.security import security_middleware
from .api.services import SERVICES, Services, build_services  # SERVICES also for tests that reach the app's objects

log = logging.getLogger(__name__)
HOUSEKEEPING_INTERVAL_S = 60.0
# One run's bound: the Redis client has no per-command timeout (see redis_client.DEFAULTS), so a Redis
# that hangs would otherwise stop housekeeping for good. What a cut-short run left undone, the next does.
HOUSEKEEPING_TIMEOUT_S = 50.0


def create_app(settings: Settings, redis_url: str, *, housekeeping: bool = True) -> web.Application:
    app = web.Application(middlewares=[security_middleware(settings, error_guard(settings.request_timeout_s))],
                          client_max_size=settings.max_body_bytes)
    svc = build_services(settings, redis_url)
    app[SERVICES] = svc
    app[ANALYSTS_KEY] = svc.analysts

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(settings.request_timeout_s):  # a hung Redis must not hold start-up
                await svc.queue.setup()
        except UNAVAILABLE:  # TimeoutError included: it is an OSError
            # Start anyway: /readyz reports 503 and submits answer 503 until Redis is back.
            log.warning("redis unreachable at start-up; the queue is set up on the next housekeeping run")
        task = asyncio.create_task(_housekeeping(svc)) if housekeeping else None
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await svc.limiter.aclose()
        await svc.dialog.store.aclose()
        await svc.redis.aclose()

    app.cleanup_ctx.append(lifecycle)
    if settings.smtp_port:
        app.cleanup_ctx.append(lambda _app: smtp_channel(svc))
    public.add_routes(app)
    analyst.add_routes(app)
    web_channel.add_routes(app)
    web_form.add_routes(app)
    return app


async def _housekeeping(svc: Services) -> None:
    """Retention, interrupted fan-outs, and a missing consumer group after a Redis restart."""
    while True:
        await asyncio.sleep(HOUSEKEEPING_INTERVAL_S)
        try:
            async with asyncio.timeout(HOUSEKEEPING_TIMEOUT_S):
                await svc.queue.setup()
                await svc.queue.recover_fanout()
                await purge_expired(svc.queue)
        except TimeoutError:  # before UNAVAILABLE: a TimeoutError is an OSError
            log.warning("housekeeping cut short after %g s: redis too slow or hung", HOUSEKEEPING_TIMEOUT_S)
        except UNAVAILABLE:
            log.warning("housekeeping skipped: redis unavailable")
        except Exception:  # housekeeping must never die; the next run tries again
            log.exception("housekeeping failed")


class AccessLogger(AbstractAccessLogger):
    """Method, route pattern, status and time: no client address, no user agent, no path
    parameters (a receipt code in a URL would link a reporter to their report)."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        route = "-"
        match = getattr(request, "match_info", None)
        if match is not None and match.route.resource is not None:
            route = match.route.resource.canonical
        self.logger.info("%s %s %s %.1fms", request.method, route, response.status, time * 1000)
