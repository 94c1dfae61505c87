"""The `frontdoor` command: serve (serve.py), manage analysts, read the queue.

Configuration comes from FRONTDOOR_* environment variables (see README); a bad value
stops here with one line naming it, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import logs
from .errors import ConfigError, FrontdoorError
from .serve import redis_url_for, safe_url, serve
from .storage.client import UNAVAILABLE
from .settings import Settings

if TYPE_CHECKING:
    from .outbox import Outbox


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
        raise ConfigError(f"FRONTDOOR_REDIS_URL: cannot connect to {safe_url(url)}") from None
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
        raise ConfigError(f"FRONTDOOR_REDIS_URL: cannot connect to {safe_url(url)}") from None
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
            return serve(settings, args)
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
