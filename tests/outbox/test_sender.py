"""The outbox's sender with the e-mail channel and a real SMTP relay: killed mid-batch (its task, and
`frontdoor serve` with SIGKILL), nothing is lost and nothing sent twice; order kept per recipient."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from frontdoor.app import CHANNELS, build_parts
from frontdoor.outbox import DeliveryFailed, Outbound, Outbox, OutboxSender, Undeliverable
from frontdoor.settings import EmailSettings, OutboxSettings
from frontdoor.storage import keys
from frontdoor.storage.client import connect
from support.relay import Relay, running_relay
from support.servers import free_port

REPORT_TO = "report@hotline.example"


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running_relay() as r:
        yield r


@pytest.fixture
async def email(settings, redis, redis_url, relay):  # type: ignore[no-untyped-def]
    """The outbox and the e-mail channel as the app builds them (its SMTP server is not started)."""
    s = replace(settings, email=EmailSettings(port=free_port(), addresses=(REPORT_TO,), relay=("127.0.0.1", relay.port)),
                outbox=OutboxSettings(first_retry_s=0.2, max_attempts=5, poll_s=0.05))
    parts = build_parts(s, redis_url)
    channel = CHANNELS["email"](parts)
    assert channel is not None
    await parts.outbox.setup()
    yield parts.outbox, channel
    await parts.redis.aclose()


def reply_body(n: int) -> dict[str, str]:
    return {"receipt": f"AAAAA-{n:05d}", "locale": "en", "category": "csam", "in_reply_to": ""}


async def wait_until(predicate: Any, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_sender_killed_mid_batch_loses_nothing_and_sends_each_once(email, relay):
    outbox, channel = email
    await outbox.put("email", "one.reporter@example.org", [reply_body(n) for n in range(10)])
    relay.hold_at = 4  # the fourth reply stops in the middle of its DATA
    first = OutboxSender(outbox, {"email": channel})
    task = asyncio.create_task(first.run())
    await asyncio.to_thread(relay.holding.wait, 10)
    task.cancel()  # the sender dies with one message on the wire and six more taken
    await asyncio.gather(task, return_exceptions=True)
    relay.release()  # the relay does not take the one whose sender went away
    assert len(relay.messages) == 3
    assert (await outbox.counts())["waiting"] == 7  # all still in Redis
    second = OutboxSender(outbox, {"email": channel})  # another process, or this one restarted
    task = asyncio.create_task(second.run())
    try:
        await wait_until(lambda: len(relay.messages) >= 10)
        await asyncio.sleep(0.5)  # and nothing more comes
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    subjects = [raw.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0] for _, _, raw in relay.messages]
    assert [s.rsplit(b" ", 1)[1] for s in subjects] == [f"AAAAA-{n:05d}".encode() for n in range(10)]  # once, in order
    assert len(set(relay.message_ids())) == 10
    assert await outbox.counts() == {"waiting": 0, "dead_letters": 0}


class Scripted:
    """A channel whose provider answers as the test says, per recipient; records what it took."""

    def __init__(self, answers: dict[str, list[Exception | None]]) -> None:
        self.answers = answers
        self.taken: list[tuple[str, Any]] = []

    async def deliver(self, message: Outbound) -> None:
        queue = self.answers.get(message.recipient, [])
        answer = queue.pop(0) if queue else None
        if answer is not None:
            raise answer
        self.taken.append((message.recipient, message.body["n"]))


async def test_a_failure_holds_back_that_recipients_later_messages_only(redis, keyring):
    outbox = Outbox(redis, keyring, OutboxSettings(first_retry_s=0.1, max_attempts=4), ["sms"])
    await outbox.setup()
    await outbox.put("sms", "+44 7700 900001", [{"n": 1}, {"n": 2}])
    await outbox.put("sms", "+44 7700 900002", [{"n": 3}])
    provider = Scripted({"+44 7700 900001": [DeliveryFailed("HTTP 502")]})
    sender = OutboxSender(outbox, {"sms": provider})
    assert await sender.send_once() == 1
    assert provider.taken == [("+44 7700 900002", 3)]  # the other recipient was not held up
    await asyncio.sleep(0.25)
    assert await sender.send_once() == 2
    assert provider.taken[1:] == [("+44 7700 900001", 1), ("+44 7700 900001", 2)]  # 2 never overtook 1


async def test_undeliverable_goes_to_the_dead_letters_at_once(redis, keyring):
    outbox = Outbox(redis, keyring, OutboxSettings(), ["sms"])
    await outbox.setup()
    await outbox.put("sms", "+44 7700 900003", [{"n": 1}])
    sender = OutboxSender(outbox, {"sms": Scripted({"+44 7700 900003": [Undeliverable("the recipient blocked us")]})})
    assert await sender.send_once() == 0
    (dead,) = await outbox.dead_letters()
    assert dead.attempts == 1 and dead.reason == "the recipient blocked us" and "7700" not in dead.reason


async def test_a_channel_that_answers_in_the_request_buries_a_stray_message(redis, keyring, settings, redis_url):
    parts = build_parts(settings, redis_url)
    web = CHANNELS["web"](parts)
    assert web is not None
    await parts.outbox.setup()
    await parts.outbox.put("web", "token", [{"n": 1}])
    assert await OutboxSender(parts.outbox, {"web": web}).send_once() == 0  # type: ignore[dict-item]
    (dead,) = await parts.outbox.dead_letters()
    assert "answers within the request" in dead.reason
    await parts.redis.aclose()


async def test_a_stopped_redis_is_one_warning_and_one_line_when_it_is_back(tmp_path, keyring, caplog):
    from frontdoor.storage.server import RedisServer, find_binaries

    caplog.set_level(logging.WARNING, logger="frontdoor.outbox")
    server = RedisServer(find_binaries()[0], tmp_path / "redis", port=free_port(), persist=False).start()
    client = connect(server.url)
    outbox = Outbox(client, keyring, OutboxSettings(poll_s=0.05), ["sms"])
    try:
        await outbox.setup()
        task = asyncio.create_task(OutboxSender(outbox, {"sms": Scripted({})}).run())
        await asyncio.sleep(0.3)
        server.stop()  # Redis goes away for a while: many polls fail ...
        await asyncio.sleep(1.0)
        server.start()  # ... and it comes back (empty: the sender makes its group again)
        await asyncio.sleep(1.5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        await client.aclose()
        server.stop()
    lines = [r.getMessage() for r in caplog.records]
    assert sum("redis unavailable" in line for line in lines) == 1, lines
    assert sum("reachable again" in line for line in lines) == 1, lines
    assert not any(r.exc_info for r in caplog.records)  # no tracebacks


def _send_report(port: int, sender: str, n: int) -> None:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = sender, REPORT_TO, f"report {n}"
    m["Message-ID"] = f"<kill-{n}-{time.time_ns()}@example.org>"
    m.set_content(f"I saw https://example.com/killed-{n}")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(m)


def _serve(tmp_path: Path, redis_url: str, http: int, smtp: int, relay: Relay) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDOOR_")}
    env.update(FRONTDOOR_REDIS_URL=redis_url, FRONTDOOR_DATA_DIR=str(tmp_path), FRONTDOOR_SMTP_PORT=str(smtp),
               FRONTDOOR_REPORT_ADDRESSES=REPORT_TO, FRONTDOOR_SMTP_RELAY=f"127.0.0.1:{relay.port}",
               FRONTDOOR_OUTBOX_FIRST_RETRY_SECONDS="1", FRONTDOOR_SECRET_KEY="kill-test-secret-" + "k" * 20,
               FRONTDOOR_ALLOW_VOLATILE_REDIS="1")  # the test Redis keeps nothing on disk
    proc = subprocess.Popen([sys.executable, "-m", "frontdoor", "serve", "--port", str(http)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            smtplib.SMTP("127.0.0.1", smtp, timeout=1).quit()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("frontdoor serve did not start")


async def test_serve_killed_with_sigkill_sends_every_reply_once_after_it_restarts(tmp_path, redis, redis_url, relay):
    http, smtp = free_port(), free_port()
    relay.hold_at = 3  # the third auto-reply is on the wire when the server dies
    proc = await asyncio.to_thread(_serve, tmp_path, redis_url, http, smtp, relay)
    try:
        for n in range(6):  # six reporters: one reply each
            await asyncio.to_thread(_send_report, smtp, f"reporter{n}@example.org", n)
        assert await asyncio.to_thread(relay.holding.wait, 20)
        # Those the relay took are acknowledged (XACK, XDEL) before the kill: a reply the relay took
        # whose acknowledgement the kill cut off would come again (delivery is at least once).
        deadline = time.monotonic() + 10
        while await redis.xlen(keys.outbox_stream("email")) + len(relay.messages) != 6:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        relay.release()
        if proc.poll() is None:
            proc.kill()
    taken_before = len(relay.messages)
    proc = await asyncio.to_thread(_serve, tmp_path, redis_url, http, smtp, relay)
    try:
        await wait_until(lambda: len(relay.messages) >= 6, timeout_s=30)
        await asyncio.sleep(1.5)  # longer than a retry's wait: nothing more comes
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert taken_before < 6
    recipients = sorted(rcpt[0] for _, rcpt, _ in relay.messages)
    assert recipients == [f"reporter{n}@example.org" for n in range(6)]  # every reply, once
    assert len(set(relay.message_ids())) == 6
