"""GET /api/v1/analyst/cases as a listing, through the real app on a real Redis with one and three shards:
every page, the filters, and every bad parameter a 400 that names it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import pytest

from support.api import ANALYST_PREFIX, assert_error, ok_json
from frontdoor.api.appkeys import INTAKE
from frontdoor.app import create_app

CASES = f"{ANALYST_PREFIX}/cases"


@pytest.fixture(params=[1, 3], ids=["one-shard", "three-shards"])
async def sharded_api(request, aiohttp_client, settings, redis, redis_url):  # type: ignore[no-untyped-def]
    app = create_app(replace(settings, queue_shards=request.param), redis_url, housekeeping=False)
    return await aiohttp_client(app)


async def _headers(api: Any, name: str, role: str = "analyst") -> dict[str, str]:
    from frontdoor.api.appkeys import ACCOUNTS

    return {"Authorization": f"Bearer {await api.app[ACCOUNTS].add(name, role)}"}


async def _report(api: Any, *urls: str, urgent: bool = False) -> None:
    await api.app[INTAKE].submit({"category": "csam", "urls": list(urls), "child_in_immediate_danger": urgent}, "api")


async def _pages(api: Any, headers: dict[str, str], **params: str) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    while True:
        body = await ok_json(await api.get(CASES, params=params, headers=headers))
        assert set(body) == {"cases", "next"}
        pages.append(body["cases"])
        if body["next"] is None:
            return pages
        params = {**params, "cursor": body["next"]}


async def test_listing_pages_through_every_case_newest_first(sharded_api):
    api = sharded_api
    h = await _headers(api, "alice")
    for i in range(11):
        await _report(api, f"https://list-{i}.example/a", *( [f"https://list-{i}.example/b"] if i % 4 == 0 else []))
    pages = await _pages(api, h, limit="4")
    seen = [c for p in pages for c in p]
    assert [len(p) for p in pages] == [4, 4, 4, 2] and len({c["id"] for c in seen}) == 14
    assert seen == sorted(seen, key=lambda c: (c["created_at"], c["id"]), reverse=True)
    oldest = [c for p in await _pages(api, h, order="oldest", limit="200") for c in p]
    assert oldest == seen[::-1]
    assert {"url_defanged", "status", "lane", "report_count"} <= set(seen[0]) and "reports" not in seen[0]


async def test_listing_filters(sharded_api):
    api = sharded_api
    alice, bob = await _headers(api, "alice"), await _headers(api, "bob")
    for i in range(6):
        await _report(api, f"https://f-{i}.example/", urgent=i in (1, 4))
    claimed = await ok_json(await api.post(f"{ANALYST_PREFIX}/claim", headers=bob))  # an urgent one, first
    assert claimed["lane"] == "urgent"
    urgent = [c for p in await _pages(api, alice, lane="urgent") for c in p]
    assert len(urgent) == 2 and {c["lane"] for c in urgent} == {"urgent"}
    held = [c for p in await _pages(api, alice, claimed_by="bob") for c in p]
    assert [c["id"] for c in held] == [claimed["id"]]
    queued = [c for p in await _pages(api, alice, status="queued", lane="urgent") for c in p]
    assert len(queued) == 1 and queued[0]["id"] != claimed["id"]
    both = [c for p in await _pages(api, alice, status="queued,in_review") for c in p]
    assert len(both) == 6
    today = datetime.now(timezone.utc).date().isoformat()
    assert len([c for p in await _pages(api, alice, since=today, until=today) for c in p]) == 6
    assert await _pages(api, alice, until="2001-01-01") == [[]]
    assert await _pages(api, alice, status="closed") == [[]]


async def test_a_cursor_is_for_its_own_filters(api, add_analyst):
    h = await add_analyst("alice")
    for i in range(3):
        await _report(api, f"https://c-{i}.example/")
    cursor = (await ok_json(await api.get(CASES, params={"limit": "1"}, headers=h)))["next"]
    assert cursor
    err = await assert_error(await api.get(CASES, params={"limit": "1", "order": "oldest", "cursor": cursor}, headers=h),
                             400, "cursor_mismatch")
    assert err["message"].startswith("cursor:")
    same = await ok_json(await api.get(CASES, params={"limit": "5", "cursor": cursor}, headers=h))  # another limit is fine
    assert len(same["cases"]) == 2 and same["next"] is None


@pytest.mark.parametrize("query, name", [
    ("status=open", "status"), ("status=", "status"), ("status=queued,", "status"), ("lane=slow", "lane"),
    ("claimed_by=Not%20A%20Name", "claimed_by"), ("since=yesterday", "since"), ("until=2024-02-30", "until"),
    ("since=2024-05-02&until=2024-05-01", "until"), ("order=random", "order"), ("cursor=xyz", "cursor"),
    ("limit=0", "limit"), ("limit=201", "limit"), ("limit=-1", "limit"), ("limit=ten", "limit"), ("limit=%C2%B2", "limit"),
    ("limit=9999999999", "limit"), ("page=2", "page"), ("status=queued&status=closed", "status"),
    ("url=https://example.com/a&status=queued", "status"), ("url=https://example.com/a&cursor=x", "cursor"),
    ("status=queued,queued", "status"), ("cursor=", "cursor"), ("since=20261201", "since"), ("until=2026-W48-1", "until"),
])
async def test_bad_listing_parameters_are_400_naming_them(api, add_analyst, query, name):
    h = await add_analyst("alice")
    err = await assert_error(await api.get(f"{CASES}?{query}", headers=h), 400)
    assert err["message"].startswith(f"{name}:") or f"{name}:" in err["message"], err


async def test_url_alone_still_finds_a_urls_cases(api, add_analyst):
    h = await add_analyst("alice")
    await _report(api, "https://example.com/found")
    body = await ok_json(await api.get(CASES, params={"url": "https://example.com/found"}, headers=h))
    assert set(body) == {"cases"} and body["cases"][0]["url"] == "https://example.com/found"
