"""The composition root: `create_app(settings, redis_url)`, and the channels it runs (`CHANNELS`).

Everything long-lived is built here, once, and each piece is handed exactly what it needs: a channel
gets the dialog, the intake, the outbox, the limiter, its own settings section. Nothing else in the
package builds these or reaches into another object for them. The pieces start and stop through the
app's cleanup_ctx; the API's routes reach theirs through typed AppKeys (api/appkeys.py).

Adding a channel: one module under channels/ implementing channels.base.Channel, one line in
CHANNELS, its settings section, its README rows (docs/channels.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from .api import analyst, public
from .api.accounts import Analysts
from .api.appkeys import ACCOUNTS, INTAKE, KEYRING, LIMITS, OUTBOX, PING, QUEUE, RECEIPTS
from .channels.base import Channel
from .channels.email.server import EmailChannel
from .channels.web.chat import WebChat
from .channels.web.form import WebForm
from .dialog.actions import ActionContext
from .dialog.engine import Dialog
from .dialog.store import ConversationStore
from .errors import ConfigError
from .http import templates
from .http.errors import error_guard
from .http.pace import Pace
from .http.receipts import ReceiptLookup
from .http.ratelimit import RateLimiter, RequestLimits
from .http.security import security_middleware
from .keyring import Keyring, load_secret
from . import metrics
from .metrics.exporter import Exporter, Supervised
from .metrics.gauges import RedisGauges
from .outbox import Outbox, OutboxSender
from .prevention_content import Catalog, load_catalog
from .queue import TriageQueue
from .queue.retention import purge_expired
from .reports.intake import ReportIntake
from .settings import Settings
from .storage.client import UNAVAILABLE, Client, connect, honour_cancellation
from .storage.outages import Outages
from .storage.persistence import check_persistence

log = logging.getLogger(__name__)
HOUSEKEEPING_INTERVAL_S = 60.0
HOUSEKEEPING_TIMEOUT_S = 50.0  # one run's bound: what a cut-short run left undone, the next does
# The longest a receipt look-up waits its turn under a flood (http/pace.py); well inside the request deadline.
RECEIPT_MAX_WAIT_S = 5.0


@dataclass(frozen=True)
class Parts:
    """What the app builds once. Only this module reads it: each channel and route is given its share."""

    settings: Settings
    redis: Client
    keyring: Keyring
    queue: TriageQueue
    intake: ReportIntake
    outbox: Outbox
    catalog: Catalog
    dialog: Dialog
    limiter: RateLimiter
    browser_limits: RequestLimits  # keyed on the client address: for requests from reporters' browsers
    accounts: Analysts
    receipts: ReceiptLookup  # the API's and the page's one look-up: per client, then all clients' pace
    outages: Outages  # this process's account of Redis being away: one warning, one line when back


ChannelFactory = Callable[[Parts], "Channel | None"]

# The channels the app runs, by the name reports carry. A factory answers None for a channel the
# settings turn off.
CHANNELS: Mapping[str, ChannelFactory] = {
    "web": lambda p: WebChat(p.dialog, p.browser_limits, p.settings.hotline),
    "web_form": lambda p: WebForm(p.intake, p.catalog, p.browser_limits, p.settings.hotline, p.receipts),
    "email": lambda p: EmailChannel(p.intake, p.outbox, p.catalog, p.keyring, p.settings.email, p.settings.hotline,
                                    timeout_s=p.settings.request_timeout_s) if p.settings.email.enabled else None,
}


def build_parts(settings: Settings, redis_url: str, channels: Mapping[str, ChannelFactory] = CHANNELS) -> Parts:
    redis = connect(redis_url)
    keyring = Keyring(load_secret(settings))
    queue = TriageQueue(redis, shards=settings.queue_shards, lease_ms=settings.lease_s * 1000,
                        retention_ms=settings.retention_days * 86_400_000)
    intake = ReportIntake(queue, keyring, default_region=settings.hotline.country, on_queued=metrics.report_accepted)
    catalog = load_catalog()
    store = ConversationStore(redis, idle_ttl_s=settings.conversation_idle_s)
    dialog = Dialog(store, intake, keyring, catalog, default_region=settings.hotline.country,
                    hotline_name=settings.hotline.name)
    web = settings.web
    limiter = RateLimiter(redis, keyring, {"conversations": web.conversations_per_min, "messages": web.messages_per_min,
                                           "reports": web.reports_per_min, "receipts": web.receipts_per_min})
    pace = Pace(redis, "receipts", rate_per_s=web.receipts_per_s,
                max_wait_s=min(RECEIPT_MAX_WAIT_S, settings.request_timeout_s / 2))
    browser_limits = RequestLimits(limiter, trust_forwarded_for=web.trust_forwarded_for)
    return Parts(settings, redis, keyring, queue, intake, Outbox(redis, keyring, settings.outbox, channels), catalog,
                 dialog, limiter, browser_limits, Analysts(redis, keyring), ReceiptLookup(browser_limits, pace, intake),
                 Outages(redis.ping))


def create_app(settings: Settings, redis_url: str, *, housekeeping: bool = True, outbox_sender: bool = True,
               channels: Mapping[str, ChannelFactory] = CHANNELS, metrics_endpoint: bool = True) -> web.Application:
    """`channels`: CHANNELS, unless a test brings a channel of its own. `housekeeping` and
    `outbox_sender`: the background work, which `serve --workers N` runs in one worker of N.
    `metrics_endpoint`: serve FRONTDOOR_METRICS_PORT from this process (a worker's supervisor does instead)."""
    parts = build_parts(settings, redis_url, channels)
    running = {name: channel for name, make in channels.items() if (channel := make(parts)) is not None}
    metrics.expect_channels([*running, "api"])
    guard = error_guard(settings.request_timeout_s, parts.outages)
    app = web.Application(middlewares=[security_middleware(settings.web, guard)],
                          client_max_size=settings.max_body_bytes)
    app[ACCOUNTS], app[INTAKE], app[KEYRING] = parts.accounts, parts.intake, parts.keyring
    app[OUTBOX], app[QUEUE], app[PING] = parts.outbox, parts.queue, parts.redis.ping
    app[LIMITS], app[RECEIPTS] = parts.browser_limits, parts.receipts
    templates.setup(app)
    for channel in running.values():
        app.router.add_routes(channel.routes())
    public.add_routes(app)
    analyst.add_routes(app)
    app.cleanup_ctx.append(lambda _app: _lifecycle(parts, running, housekeeping=housekeeping,
                                                             outbox_sender=outbox_sender))
    if settings.metrics.enabled and metrics_endpoint:
        exporter = Exporter(settings.metrics, RedisGauges(parts.redis, parts.queue, parts.outbox))
        app.cleanup_ctx.append(lambda _app: exporter.serving())
    return app


def supervised_metrics(settings: Settings, redis_url: str) -> Supervised | None:
    """The metrics endpoint of `serve --workers N`, in the supervisor (metrics/exporter.py), with a
    Redis client of its own for the gauges, made and closed in the supervisor's event loop."""
    if not settings.metrics.enabled:
        return None

    @contextlib.asynccontextmanager
    async def gauges() -> AsyncIterator[RedisGauges]:
        redis = connect(redis_url)
        queue = TriageQueue(redis, shards=settings.queue_shards)
        try:
            yield RedisGauges(redis, queue, Outbox(redis, Keyring(load_secret(settings)), settings.outbox, CHANNELS))
        finally:
            await queue.aclose()
            await redis.aclose()

    return Supervised(settings.metrics, gauges)


async def _lifecycle(parts: Parts, channels: Mapping[str, Channel], *, housekeeping: bool,
                     outbox_sender: bool) -> AsyncIterator[None]:
    try:
        async with asyncio.timeout(parts.settings.request_timeout_s):  # a hung Redis must not hold start-up
            await check_persistence(parts.redis, allow_volatile=parts.settings.allow_volatile_redis)
            await parts.queue.setup()
            await parts.outbox.setup()
            await parts.outbox.adopt_legacy_jobs()
    except UNAVAILABLE as exc:  # TimeoutError included: it is an OSError
        # Start anyway: /readyz reports 503 and submits answer 503 until Redis is back.
        parts.outages.failed(exc)  # the warning, and a line when Redis is back
        log.info("redis unreachable at start-up (persistence not verified); the queue is set up on the next "
                    "housekeeping run")
    except ConfigError:  # a Redis that keeps nothing: nothing is served, and nothing is left open
        await _close(parts)
        raise
    async with contextlib.AsyncExitStack() as running:
        for channel in channels.values():  # first: the sender may hand them a message at once
            await running.enter_async_context(channel.running())
        tasks = [asyncio.create_task(OutboxSender(parts.outbox, channels, outages=parts.outages).run())] if outbox_sender else []
        if housekeeping:
            tasks.append(asyncio.create_task(_housekeeping(parts)))
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await _close(parts)


async def _close(parts: Parts) -> None:
    await parts.outages.aclose()
    await parts.limiter.aclose()
    await parts.dialog.aclose()
    await parts.queue.aclose()
    await parts.redis.aclose()


async def _housekeeping(parts: Parts) -> None:
    """Retention, interrupted fan-outs, the outbox's TTL, and consumer groups a Redis restart lost."""
    while True:
        honour_cancellation()
        await asyncio.sleep(HOUSEKEEPING_INTERVAL_S)
        try:
            async with asyncio.timeout(HOUSEKEEPING_TIMEOUT_S):
                await parts.queue.setup()
                await parts.queue.recover_fanout()
                await purge_expired(parts.queue)
                await parts.outbox.setup()
                await parts.outbox.trim()
                # Last, and bounded well inside the run's timeout: the rest never waits on it.
                await parts.queue.listing.build(budget_s=HOUSEKEEPING_TIMEOUT_S / 2)
        except TimeoutError:  # before UNAVAILABLE: a TimeoutError is an OSError
            log.warning("housekeeping cut short after %g s: redis too slow or hung", HOUSEKEEPING_TIMEOUT_S)
        except UNAVAILABLE as exc:
            parts.outages.failed(exc)  # logged there, once an outage
            log.info("housekeeping skipped: redis unavailable")
        except Exception:  # housekeeping must never die; the next run tries again
            log.exception("housekeeping failed")


def action_context_from_env() -> ActionContext:
    """For rasa-sdk's own action server, which makes the actions without arguments (dialog/actions.py)."""
    settings = Settings.from_env()
    if settings.redis_url is None:
        raise ConfigError("FRONTDOOR_REDIS_URL must be set for the action server")
    parts = build_parts(settings, settings.redis_url)
    return ActionContext(parts.intake, parts.keyring, parts.catalog, settings.hotline.country)
