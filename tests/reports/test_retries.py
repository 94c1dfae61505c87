"""A client that retries after an ambiguous answer stores one report, and gets the first receipt.

Redis is paused (SIGSTOP) past the request's deadline: the client hears 503 (SMTP: 451), yet the
command already written reaches Redis when it is resumed (SIGCONT), so the report may be stored
after all. The retry, named as the first attempt was (Idempotency-Key, the form's token, the chat
turn's key, the Message-ID and sender), must find it. Each test runs its own redis-server, so
pausing it disturbs no other test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import smtplib
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
import redis.asyncio as aioredis

from frontdoor.app import create_app
from frontdoor.settings import EmailSettings
from frontdoor.storage.server import RedisServer, find_binaries
from support.servers import free_port

KEY = "retry-test-8e03978e-40d5-43e8-bc93-6894a57f9324"
REPORT = {"category": "csam", "urls": ["https://example.com/retried"]}
CHAT_PATH = ["report", "csam", "https://example.com/chat-retried", "website", "skip", "no", "other_adult", "skip", "skip"]
REPORT_TO = "report@hotline.example"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(find_binaries()[0], tmp_path / "redis", port=free_port(), persist=False).start()
    try:
        yield server
    finally:
        if server.pid is not None:
            os.kill(server.pid, signal.SIGCONT)
        server.stop()


@pytest.fixture
async def app(aiohttp_client, settings, own_redis) -> Any:  # type: ignore[no-untyped-def]
    """The app with a one-second deadline (and its SMTP server), warmed up: its scripts are loaded."""
    s = replace(settings, request_timeout_s=1.0, email=EmailSettings(port=free_port(), addresses=(REPORT_TO,)))
    client = await aiohttp_client(create_app(s, own_redis.url, housekeeping=False))
    assert (await client.post("/api/v1/reports", json={"category": "csam", "urls": ["https://example.com/warm"]})).status == 201
    client.smtp_port = s.email.port
    return client


@pytest.fixture
async def admin(own_redis: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(own_redis.url, decode_responses=True)
    yield client
    await client.aclose()


@contextlib.asynccontextmanager
async def paused(server: RedisServer) -> AsyncIterator[None]:
    assert server.pid is not None
    os.kill(server.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.pid, signal.SIGCONT)


async def stored(admin: aioredis.Redis) -> set[str]:
    """The ids of the reports Redis holds."""
    return {k.rsplit(":", 1)[1] async for k in admin.scan_iter(match="*:report:*") if not k.endswith(":cases")}


async def landed(admin: aioredis.Redis, before: set[str]) -> set[str]:
    """What the paused attempt stored once Redis ran again: its report, or nothing if the deadline
    passed before the submit was written (a rate-limit check ahead of it was waiting on Redis too)."""
    await asyncio.sleep(0.5)
    return await stored(admin) - before


async def one_more(admin: aioredis.Redis, before: set[str], first: set[str]) -> str:
    """The one report the request and its retries stored between them: the paused attempt's if it landed."""
    new = await stored(admin) - before
    assert len(new) == 1 and (not first or new == first), (first, new)
    return new.pop()


async def report_of(admin: aioredis.Redis, receipt: str) -> str | None:
    return await admin.get(next(iter([k async for k in admin.scan_iter(match=f"*:receipt:{receipt}")]), "-"))


async def test_an_api_retry_with_its_idempotency_key_after_a_503_stores_nothing_new(app, own_redis, admin) -> None:  # type: ignore[no-untyped-def]
    before = await stored(admin)
    headers = {"Idempotency-Key": f'"{KEY}"'}
    async with paused(own_redis):
        assert (await app.post("/api/v1/reports", json=REPORT, headers=headers)).status == 503
    first = await landed(admin, before)  # stored after all, usually: the 503 was ambiguous
    bodies = []
    for _ in range(2):
        retry = await app.post("/api/v1/reports", json=REPORT, headers={"Idempotency-Key": KEY})  # bare form: same key
        assert retry.status == 201
        bodies.append(await retry.json())
    assert bodies[0] == bodies[1]
    assert bodies[0]["report"] == await one_more(admin, before, first) == await report_of(admin, bodies[0]["receipt"])
    async for key in admin.scan_iter("*"):
        assert KEY not in key  # only a keyed pseudonym of the key


async def test_the_form_posted_again_after_a_503_shows_the_first_receipt(app, own_redis, admin) -> None:  # type: ignore[no-untyped-def]
    page = await (await app.get("/report")).text()
    token = re.search(r'name="submission" value="([A-Za-z0-9_-]{22})"', page).group(1)  # type: ignore[union-attr]
    form = {"lang": "en", "submission": token, "category": "csam", "urls": "https://example.com/form-retried",
            "where_seen": "website", "danger": "no", "role": "other_adult"}
    before = await stored(admin)
    async with paused(own_redis):
        assert (await app.post("/report", data=form)).status == 503
    first = await landed(admin, before)
    receipts = set()
    for _ in range(2):  # the retry, then Back and resubmit
        done = await app.post("/report", data=form)
        receipts.add(re.search(r'id="receipt">([0-9A-Z]{5}-[0-9A-Z]{5})<', await done.text()).group(1))  # type: ignore[union-attr]
    assert len(receipts) == 1 and await report_of(admin, receipts.pop()) == await one_more(admin, before, first)
    other = await app.post("/report", data={**form, "danger": "yes"})  # changed after Back: a report of its own
    assert other.status == 200 and len(await stored(admin)) == len(before) + 2
    assert re.search(r'name="submission" value="([^"]+)"', page).group(1) != re.search(  # type: ignore[union-attr]
        r'name="submission" value="([^"]+)"', await (await app.get("/report")).text()).group(1)  # type: ignore[union-attr]


async def test_a_chat_send_turn_retried_after_a_503_stores_one_report_with_the_receipt_shown(app, own_redis, admin) -> None:  # type: ignore[no-untyped-def]
    token = (await (await app.post("/api/v1/conversations", json={"locale": "en"})).json())["conversation"]
    url = f"/api/v1/conversations/{token}/messages"
    for n, answer in enumerate(CHAT_PATH):
        assert (await app.post(url, json={"payload": answer}, headers={"Idempotency-Key": f"turn-{n:012d}-x"})).status == 200
    before = await stored(admin)
    send = {"Idempotency-Key": f'"{KEY}"'}
    async with paused(own_redis):
        assert (await app.post(url, json={"payload": "send"}, headers=send)).status == 503
    first = await landed(admin, before)
    answers = [await (await app.post(url, json={"payload": "send"}, headers=send)).json() for _ in range(2)]
    assert answers[0] == answers[1] and answers[0]["state"] == "submitted"
    assert await report_of(admin, answers[0]["receipt"]) == await one_more(admin, before, first)


async def test_a_chat_turn_whose_answer_was_lost_is_answered_again_not_taken_as_the_next(settings, own_redis, admin) -> None:  # type: ignore[no-untyped-def]
    """The widget gave up waiting (its own timeout) while the server went on and stored the report:
    the retry, under the same key, is shown the receipt; without the key "send" would be read as the
    answer to the next question. On a server as `frontdoor serve` runs it, which finishes a request
    whose client left (aiohttp's test server would cancel it)."""
    runner = web.AppRunner(create_app(replace(settings, request_timeout_s=5.0), own_redis.url, housekeeping=False))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as client:
            token = (await (await client.post("/api/v1/conversations", json={"locale": "en"})).json())["conversation"]
            url = f"/api/v1/conversations/{token}/messages"
            for answer in CHAT_PATH:
                assert (await client.post(url, json={"payload": answer})).status == 200
            before = await stored(admin)
            send = {"Idempotency-Key": KEY}
            async with paused(own_redis):
                with pytest.raises(TimeoutError):
                    await client.post(url, json={"payload": "send"}, headers=send, timeout=aiohttp.ClientTimeout(total=0.3))
            first = await landed(admin, before)  # resumed within the server's deadline: the turn went through
            assert first
            answer = await (await client.post(url, json={"payload": "send"}, headers=send)).json()
    finally:
        await runner.cleanup()
    assert answer["state"] == "submitted" and await report_of(admin, answer["receipt"]) == await one_more(admin, before, first)


def _mail(port: int, message_id: str) -> int:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"], m["Message-ID"] = "reporter@example.org", REPORT_TO, "Report", message_id
    m.set_content("I saw https://example.com/mailed-retried today.")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        try:
            client.send_message(m, from_addr="reporter@example.org")
        except smtplib.SMTPDataError as exc:
            return exc.smtp_code
    return 250


async def test_an_email_redelivered_after_a_451_is_stored_once(app, own_redis, admin) -> None:  # type: ignore[no-untyped-def]
    before = await stored(admin)
    async with paused(own_redis):
        assert await asyncio.to_thread(_mail, app.smtp_port, "<retried-1@example.org>") == 451
    first = await landed(admin, before)
    assert await asyncio.to_thread(_mail, app.smtp_port, "<retried-1@example.org>") == 250  # the sender's retry
    await one_more(admin, before, first)
    assert await asyncio.to_thread(_mail, app.smtp_port, "<retried-1@example.org>") == 250  # and once more
    await one_more(admin, before, first)
