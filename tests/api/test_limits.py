"""The public routes' abuse limits through real HTTP: reports and receipt look-ups per client, who a
client is with and without a trusted proxy, and the global pace of receipt look-ups shared by
every process (frontdoor/http/ratelimit.py, frontdoor/http/pace.py).

Addresses are RFC 5737's documentation ranges.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

from frontdoor.app import create_app
from frontdoor.http.pace import BUSY
from support.api import assert_error

REPORT = {"category": "csam", "urls": ["https://example.com/page"]}
MISSING = "ABCDE-FGHJK"  # a well-formed receipt no report has


def limited(settings: Any, **web: Any) -> Any:
    return replace(settings, web=replace(settings.web, **web))


async def client_for(aiohttp_client: Any, settings: Any, redis_url: str) -> Any:
    return await aiohttp_client(create_app(settings, redis_url, housekeeping=False))


def from_(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def refused(resp: Any) -> int:
    """A 429 in the API's error shape; its Retry-After, in seconds."""
    await assert_error(resp, 429, "rate_limited")
    retry_after = int(resp.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    return retry_after


async def test_reports_per_client_and_minute(aiohttp_client, settings, redis, redis_url):
    api = await client_for(aiohttp_client, limited(settings, reports_per_min=3), redis_url)
    for _ in range(3):
        assert (await api.post("/api/v1/reports", json=REPORT)).status == 201
    await refused(await api.post("/api/v1/reports", json=REPORT))
    # Refused before the body is read: a bad body over the limit is a 429 too, and nothing was stored.
    await refused(await api.post("/api/v1/reports", data="{", headers={"Content-Type": "application/json"}))
    assert len([k async for k in redis.scan_iter("fd:{s0}:report:*") if not k.endswith(":cases")]) == 3


async def test_the_api_and_the_form_share_the_client_s_report_count(aiohttp_client, settings, redis, redis_url):
    api = await client_for(aiohttp_client, limited(settings, reports_per_min=2), redis_url)
    assert (await api.post("/api/v1/reports", json=REPORT)).status == 201
    assert (await api.post("/api/v1/reports", json=REPORT)).status == 201
    form = await api.post("/report", data={"category": "csam", "urls": "https://example.com/page"})
    assert form.status == 429


async def test_receipt_look_ups_per_client_found_or_not(aiohttp_client, settings, redis, redis_url):
    api = await client_for(aiohttp_client, limited(settings, receipts_per_min=4), redis_url)
    receipt = (await (await api.post("/api/v1/reports", json=REPORT)).json())["receipt"]
    assert (await api.get(f"/api/v1/receipts/{receipt}")).status == 200
    assert (await api.get(f"/api/v1/receipts/{MISSING}")).status == 404
    assert (await api.get(f"/api/v1/receipts/{MISSING}")).status == 404
    assert (await api.get(f"/api/v1/receipts/{receipt}")).status == 200
    await refused(await api.get(f"/api/v1/receipts/{receipt}"))  # a real code is refused like a guess
    await refused(await api.get(f"/api/v1/receipts/{MISSING}"))


async def test_without_trust_forwarded_for_is_ignored_so_one_socket_is_one_client(aiohttp_client, settings, redis,
                                                                               redis_url):
    api = await client_for(aiohttp_client, limited(settings, receipts_per_min=3, reports_per_min=2,
                                                   trust_forwarded_for=False), redis_url)
    statuses = [(await api.get(f"/api/v1/receipts/{MISSING}", headers=from_(f"198.51.100.{i}"))).status
                for i in range(1, 6)]
    assert statuses == [404, 404, 404, 429, 429]
    reports = [(await api.post("/api/v1/reports", json=REPORT, headers=from_(f"203.0.113.{i}"))).status
               for i in range(1, 4)]
    assert reports == [201, 201, 429]
    assert not [k async for k in redis.scan_iter("*198.51.100*")]


async def test_with_trust_each_forwarded_address_is_its_own_client(aiohttp_client, settings, redis, redis_url):
    api = await client_for(aiohttp_client, limited(settings, receipts_per_min=2, trust_forwarded_for=True), redis_url)
    for i in range(1, 6):  # five clients behind the proxy, two look-ups each: all answered
        for _ in range(2):
            assert (await api.get(f"/api/v1/receipts/{MISSING}", headers=from_(f"198.51.100.{i}"))).status == 404
    await refused(await api.get(f"/api/v1/receipts/{MISSING}", headers=from_("198.51.100.3")))
    # The proxy appends the address it saw: what a client wrote before it changes nothing.
    for forged in ("192.0.2.1", "192.0.2.2, 10.0.0.1"):
        await refused(await api.get(f"/api/v1/receipts/{MISSING}", headers=from_(f"{forged}, 198.51.100.3")))
    assert (await api.get(f"/api/v1/receipts/{MISSING}", headers=from_("198.51.100.3, 198.51.100.9"))).status == 404
    keys = [k async for k in redis.scan_iter("*")]
    assert keys and not [k for k in keys if "198.51.100" in k or "192.0.2" in k]  # pseudonyms only


async def look_up(api: Any, address: str) -> tuple[int, float, str | None]:
    started = time.monotonic()
    resp = await api.get(f"/api/v1/receipts/{MISSING}", headers=from_(address))
    body = await resp.json()
    return resp.status, time.monotonic() - started, body.get("message") if resp.status == 429 else None


async def test_the_global_pace_slows_and_then_refuses_a_guesser_with_many_addresses(aiohttp_client, settings, redis,
                                                                                    redis_url):
    # 5 look-ups a second of all clients together, the longest wait 1 s (half the 2 s deadline);
    # two processes (two apps) that share nothing but Redis; each guess from an address of its own.
    paced = replace(limited(settings, receipts_per_s=5, trust_forwarded_for=True), request_timeout_s=2)
    apps = [await client_for(aiohttp_client, paced, redis_url) for _ in range(2)]
    started = time.monotonic()
    results = await asyncio.gather(*(look_up(apps[i % 2], f"198.51.100.{i + 1}") for i in range(24)))
    elapsed = time.monotonic() - started
    answered = sorted(t for status, t, _ in results if status == 404)
    refusals = [(status, message) for status, _, message in results if status != 404]
    assert refusals and all(r == (429, BUSY) for r in refusals), refusals
    # Five at once (a second's worth), then one each 0.2 s, up to the longest wait: about ten in all
    # (one or two fewer when two processes' clocks are read in one order and their reservations reach
    # Redis in the other, a millisecond apart), and a few more only if the guesses took long to
    # arrive (each slot is 0.2 s of real time).
    assert 8 <= len(answered) <= 10 + 5 * elapsed + 1, (len(answered), elapsed)
    assert answered[-1] >= 0.55, answered  # the last of them waited for its turn
    assert max(t for _, t, _ in results) < 2, results  # none held past the deadline


async def test_a_quiet_hotline_never_waits(aiohttp_client, settings, redis, redis_url):
    api = await client_for(aiohttp_client, limited(settings, receipts_per_s=5, trust_forwarded_for=True), redis_url)
    for i in range(5):
        status, took, _ = await look_up(api, f"198.51.100.{i + 1}")
        assert status == 404 and took < 0.2, took
