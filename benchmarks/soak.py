"""A soak: mixed load over every channel while Redis and a worker are killed, and what it cost.

Run:  python benchmarks/soak.py [--minutes 10] [--workers 2] [--clients 2] [--redis-binary PATH]

`frontdoor serve --workers N` runs as a user would start it, on a redis-server of this script's own
with append-only persistence (what the shipped docker-compose.yml and `make run` use). Simulated
reporters, `--clients` per channel, send reports without pause through the web chat (a whole
conversation to its receipt), the no-JavaScript form, the public API and e-mail, each retrying what
was not acknowledged the way a careful client does: the same Idempotency-Key, the same form token,
the same turn, the same Message-ID. Once a minute Redis is killed with SIGKILL and started again on
its files, and, half a minute apart from that, one worker is killed with SIGKILL (the supervisor
starts another).

Printed as JSON: reports acknowledged and stored per channel; lost (acknowledged, not stored) and
stored twice (one submission, two reports), both of which must be zero; the longest time a client
went without an answer it could use (its outage); the RSS of the servers at the start and the end;
and the server's stderr lines that carry a traceback (none expected).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

import harness
from frontdoor.storage.server import RedisServer

KINDS = ("chat", "form", "api", "email")
T = TypeVar("T")
# The main report path through the chat, as the widget's buttons send it; None is the link, typed.
CHAT_PATH = ("report", "csam", None, "website", "skip", "no", "other_adult", "skip", "skip", "send")
REPORT_TO = "report@hotline.example"
RETRY_PAUSE_S = 0.25  # between attempts at one submission: a client that retries at once, but not in a spin
REQUEST_TIMEOUT_S = 15.0  # a client's patience with one request (the server's own deadline is shorter)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
RECEIPT = re.compile(r'[A-Z0-9]{5}-[A-Z0-9]{5}')


@dataclass
class Tally:
    """One channel's reporters, together: what they were told and how long they waited."""

    acknowledged: set[str] = field(default_factory=set)  # the submission markers (their link's path)
    receipts: dict[str, str] = field(default_factory=dict)
    attempts: int = 0
    refusals: int = 0  # submissions refused outright (a 4xx, an SMTP 5xx): a fault of the client, or a bug
    refused: Counter[str] = field(default_factory=Counter)  # why an attempt got no usable answer
    longest_outage_s: float = 0.0


class Unacknowledged(Exception):
    """An answer a client cannot use (503, 451, a connection reset): it tries again."""


class Refused(Exception):
    """A clear no (a 4xx other than 429, an SMTP 5xx): trying again would not help; counted, not retried."""


async def until_acknowledged(tally: Tally, attempt: Callable[[], Awaitable[T]], stop_at: float) -> T | None:
    """The careful client: the same submission again until it is acknowledged, timing the outage."""
    first_failure: float | None = None
    while True:
        tally.attempts += 1
        try:
            result = await attempt()
        except Refused as exc:
            tally.refused[str(exc)] += 1
            tally.refusals += 1
            return None
        except (Unacknowledged, aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            tally.refused[str(exc)[:60] or type(exc).__name__] += 1
            first_failure = first_failure or time.monotonic()
            if time.monotonic() > stop_at:
                return None
            await asyncio.sleep(RETRY_PAUSE_S)
            continue
        if first_failure is not None:
            tally.longest_outage_s = max(tally.longest_outage_s, time.monotonic() - first_failure)
        return result


def check(status: int, expected: int, what: str) -> None:
    if status == expected:
        return
    if 400 <= status < 500 and status != 429:
        raise Refused(f"{what} {status}")
    raise Unacknowledged(f"{what} {status}")


Submit = Callable[[str], Awaitable["str | None"]]  # a submission's marker -> its receipt ("" for e-mail), or None


async def reporter(kind: str, name: str, tally: Tally, until: float, submit: Submit) -> None:
    """One reporter of a channel: submission after submission until `until`, each to its end."""
    n = 0
    while time.monotonic() < until:
        marker = f"{kind}/{name}/{n}"
        receipt = await submit(marker)
        if receipt is not None:
            tally.acknowledged.add(marker)
            tally.receipts[marker] = receipt
        n += 1


def api_submit(session: aiohttp.ClientSession, base: str, tally: Tally, give_up: float) -> Submit:
    async def submit(marker: str) -> str | None:
        body = {"category": "csam", "urls": [f"https://example.com/soak/{marker}"], "description": "soak"}

        async def attempt() -> str:
            async with session.post(f"{base}/api/v1/reports", json=body,
                                    headers={"Idempotency-Key": f"soak-submission-{marker}"}) as r:
                check(r.status, 201, "api")  # a retry is answered 201 with the first receipt
                return str((await r.json())["receipt"])

        return await until_acknowledged(tally, attempt, give_up)

    return submit


def form_submit(session: aiohttp.ClientSession, base: str, tally: Tally, give_up: float) -> Submit:
    async def submit(marker: str) -> str | None:
        async def page() -> dict[str, str]:
            async with session.get(f"{base}/report") as r:
                check(r.status, 200, "form page")
                return dict(HIDDEN.findall(await r.text()))

        hidden = await until_acknowledged(tally, page, give_up)
        if hidden is None:
            return None
        fields = {**hidden, "category": "csam", "urls": f"https://example.com/soak/{marker}", "description": "soak",
                  "where_seen": "website", "danger": "no", "role": "other_adult"}

        async def attempt() -> str:
            async with session.post(f"{base}/report", data=fields) as r:
                check(r.status, 200, "form")
                found = RECEIPT.search(await r.text())
                if found is None:
                    raise Unacknowledged("form page without a receipt")
                return found.group(0)

        return await until_acknowledged(tally, attempt, give_up)

    return submit


def chat_submit(session: aiohttp.ClientSession, base: str, tally: Tally, give_up: float) -> Submit:
    async def submit(marker: str) -> str | None:
        async def start() -> str:
            async with session.post(f"{base}/api/v1/conversations", json={"locale": "en"}) as r:
                check(r.status, 201, "chat start")
                return str((await r.json())["conversation"])

        token = await until_acknowledged(tally, start, give_up)
        if token is None:
            return None
        reply: dict[str, Any] | None = None
        for turn, answer in enumerate(CHAT_PATH):
            body = {"payload": answer} if answer is not None else {"text": f"https://example.com/soak/{marker}"}

            async def send(body: dict[str, str] = body, turn: int = turn) -> dict[str, Any]:
                # The widget's retry of one turn: the same turn id, so a turn the server did take is not taken twice.
                async with session.post(f"{base}/api/v1/conversations/{token}/messages", json=body,
                                        headers={"Idempotency-Key": f"{token[:16]}-{turn}"}) as r:
                    check(r.status, 200, "chat turn")
                    return dict(await r.json())

            reply = await until_acknowledged(tally, send, give_up)
            if reply is None:
                return None
        if reply is not None and reply.get("state") == "submitted" and reply.get("receipt"):
            return str(reply["receipt"])
        tally.refused[f"chat ended {reply and reply.get('state')}"] += 1
        tally.refusals += 1
        return None

    return submit


def email_message(marker: str) -> bytes:
    return (f"From: <reporter@example.org>\r\nTo: <{REPORT_TO}>\r\nSubject: soak\r\n"
            f"Message-ID: <{marker.replace('/', '.')}@client.example.net>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\nI found this page: https://example.com/soak/{marker}\r\n"
            ).encode()


def email_submit(port: int, tally: Tally, give_up: float) -> Submit:
    async def submit(marker: str) -> str | None:
        raw = email_message(marker)

        def send() -> str:
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S) as smtp:
                    smtp.sendmail("reporter@example.org", [REPORT_TO], raw)
                return ""  # the receipt goes out in the auto-reply, not over SMTP
            except smtplib.SMTPResponseException as exc:
                raise (Refused if exc.smtp_code >= 500 else Unacknowledged)(f"smtp {exc.smtp_code}") from None
            except (smtplib.SMTPException, OSError) as exc:
                raise Unacknowledged(f"smtp {type(exc).__name__}") from None

        return await until_acknowledged(tally, lambda: asyncio.to_thread(send), give_up)

    return submit


# -- the servers -----------------------------------------------------------------------------------


class Service:
    """`frontdoor serve --workers N` on a Redis of our own, and the means to kill either."""

    def __init__(self, binary: str, tmp: Path, workers: int) -> None:
        self.redis = RedisServer(binary, tmp / "redis", port=harness.free_port(), persist=True)
        self.redis.start()
        self.port, self.smtp_port = harness.free_port(), harness.free_port()
        self.log = tmp / "serve.log"
        env = {**os.environ, "FRONTDOOR_REDIS_URL": self.redis.url, "FRONTDOOR_DATA_DIR": str(tmp / "data"),
               "FRONTDOOR_SECRET_KEY": harness.SECRET.decode(), "FRONTDOOR_SMTP_PORT": str(self.smtp_port),
               "FRONTDOOR_REPORT_ADDRESSES": REPORT_TO, "FRONTDOOR_REQUEST_TIMEOUT_SECONDS": "5",
               "FRONTDOOR_RATE_CONVERSATIONS_PER_MINUTE": "100000", "FRONTDOOR_RATE_MESSAGES_PER_MINUTE": "100000",
               "FRONTDOOR_RATE_REPORTS_PER_MINUTE": "100000", "FRONTDOOR_RATE_RECEIPTS_PER_MINUTE": "100000",
               "FRONTDOOR_ALLOW_VOLATILE_REDIS": "0"}
        with self.log.open("w") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "frontdoor.cli", "serve", "--port", str(self.port),
                                          "--workers", str(workers)], env=env, stdout=log, stderr=subprocess.STDOUT)
        self.workers = workers
        self._wait_ready()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_ready(self, timeout_s: float = 60.0) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"frontdoor serve exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.base}/readyz", timeout=1) as r:
                    if r.status == 200 and len(self.worker_pids()) >= self.workers:
                        return
            time.sleep(0.2)
        raise RuntimeError(f"frontdoor serve not ready in {timeout_s:.0f} s: {self.log.read_text()[-2000:]}")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        with contextlib.suppress(OSError):
            return [int(p) for p in children.read_text().split()]
        return []

    def kill_redis(self, down_s: float) -> None:
        os.kill(harness.redis_pid(self.redis.url), signal.SIGKILL)
        time.sleep(down_s)
        self.redis = RedisServer(self.redis.binary, self.redis.data_dir, port=self.redis.port, persist=True)
        self.redis.start(timeout_s=30)

    def kill_worker(self) -> bool:
        pids = self.worker_pids()
        if not pids:
            return False
        os.kill(pids[-1], signal.SIGKILL)
        return True

    def rss_mb(self) -> dict[str, float]:
        pids = {"supervisor": self.proc.pid, **{f"worker{i}": p for i, p in enumerate(self.worker_pids())}}
        with contextlib.suppress(Exception):
            pids["redis"] = harness.redis_pid(self.redis.url)
        return {name: rss for name, pid in pids.items() if (rss := _rss_mb(pid)) is not None}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.redis.stop()


def _rss_mb(pid: int) -> float | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


def stored_reports(url: str) -> Counter[str]:
    """How many stored reports carry each submission's marker (the path of its link)."""
    import redis

    client = redis.Redis.from_url(url)
    found: Counter[str] = Counter()
    try:
        for key in client.scan_iter(match="fd:*:report:*", count=1000):
            if key.endswith(b":cases"):
                continue
            report = json.loads(client.get(key) or b"{}")
            for link in report.get("urls", []):
                if "/soak/" in link.get("normalized", ""):
                    found[link["normalized"].split("/soak/", 1)[1]] += 1
    finally:
        client.close()
    return found


async def chaos(service: Service, until: float, interval_s: float, kills: Counter[str]) -> None:
    """Redis at each interval's start, a worker at its middle: two faults a minute, never together."""
    while True:
        await asyncio.sleep(interval_s / 2)
        if time.monotonic() >= until:
            return
        if await asyncio.to_thread(service.kill_worker):
            kills["worker"] += 1
        await asyncio.sleep(interval_s / 2)
        if time.monotonic() >= until:
            return
        await asyncio.to_thread(service.kill_redis, 1.0)
        kills["redis"] += 1


async def load(service: Service, seconds: float, clients: int, interval_s: float) -> tuple[dict[str, Tally], Counter[str]]:
    tallies = {kind: Tally() for kind in KINDS}
    kills: Counter[str] = Counter()
    until = time.monotonic() + seconds
    give_up = until + 120.0  # after the last fault, what is unacknowledged has two minutes to get through
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        submits = {"chat": chat_submit(session, service.base, tallies["chat"], give_up),
                   "form": form_submit(session, service.base, tallies["form"], give_up),
                   "api": api_submit(session, service.base, tallies["api"], give_up),
                   "email": email_submit(service.smtp_port, tallies["email"], give_up)}
        reporters = [reporter(kind, str(i), tallies[kind], until, submit)
                     for i in range(clients) for kind, submit in submits.items()]
        await asyncio.gather(chaos(service, until, interval_s, kills), *reporters)
    return tallies, kills


def run(binary: str, minutes: float, workers: int, clients: int, interval_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="frontdoor-soak-") as tmp:
        service = Service(binary, Path(tmp), workers)
        try:
            rss_start = service.rss_mb()
            began = time.monotonic()
            tallies, kills = harness.run_loop(load(service, minutes * 60, clients, interval_s))
            wall = time.monotonic() - began
            rss_end = service.rss_mb()
            stored = stored_reports(service.redis.url)
        finally:
            service.stop()
        log = service.log.read_text(errors="replace")
    per_kind: dict[str, Any] = {}
    for kind, tally in tallies.items():
        mine = {m: c for m, c in stored.items() if m.startswith(kind + "/")}
        per_kind[kind] = {
            "acknowledged": len(tally.acknowledged),
            "stored": len(mine),
            "lost": sorted(m for m in tally.acknowledged if m not in mine)[:20],
            "stored_twice": sorted(m for m, c in mine.items() if c > 1)[:20],
            "attempts": tally.attempts,
            "refused": tally.refusals,
            "unacknowledged_answers": dict(tally.refused.most_common(8)),
            "longest_outage_s": round(tally.longest_outage_s, 2),
        }
    return {
        "benchmark": "soak",
        "minutes": minutes,
        "workers": workers,
        "clients_per_channel": clients,
        "wall_s": round(wall, 1),
        "kills": dict(kills),
        "acknowledged": sum(k["acknowledged"] for k in per_kind.values()),
        "lost": sum(len(k["lost"]) for k in per_kind.values()),
        "stored_twice": sum(len(k["stored_twice"]) for k in per_kind.values()),
        "refused": sum(k["refused"] for k in per_kind.values()),
        "longest_outage_s": max(k["longest_outage_s"] for k in per_kind.values()),
        "rss_mb": {"start": rss_start, "end": rss_end},
        "tracebacks_in_server_log": log.count("Traceback"),
        "channels": per_kind,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=2, help="reporters per channel")
    parser.add_argument("--fault-interval", type=float, default=60.0, help="seconds between kills of Redis")
    parser.add_argument("--redis-binary", default=None)
    args = parser.parse_args(argv)
    binary = harness.redis_binary(parser, args.redis_binary)
    return harness.emit(run(binary, args.minutes, args.workers, args.clients, args.fault_interval))


if __name__ == "__main__":
    sys.exit(main())
