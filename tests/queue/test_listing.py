"""Listing cases (queue/listing.py) on real redis-servers: every page, every filter, one to three shards,
the index kept by the scripts, the index built for cases from before it, and a Redis Cluster."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from support.clock import Clock
from frontdoor.errors import InvalidInput
from frontdoor.queue import listing
from frontdoor.queue.listing import STATUSES, CaseFilter
from frontdoor.storage import keys

DAY_MS = 86_400_000
START = 1_800_000_000_000  # 2027-01-15T08:00:00Z


async def _all_pages(q: Any, filters: CaseFilter, limit: int) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    while True:
        page = await q.listing.page(filters, cursor=cursor, limit=limit)
        pages.append(page.cases)
        if page.next is None:
            return pages
        cursor = page.next
        assert len(pages) < 1000


def _key(case: dict[str, Any]) -> tuple[str, str]:
    return case["created_at"], case["id"]


async def _fill(q: Any, report: Any, clock: Clock, n: int) -> list[str]:
    """n cases over several days: some reports open several cases in one millisecond."""
    opened: list[str] = []
    i = 0
    while len(opened) < n:
        urls = [f"https://site-{i}-{k}.example/p" for k in range(1 + (i % 3 == 0) * 2)]
        done = await q.submit(report(q, urls[: n - len(opened)], child_in_immediate_danger=(i % 5 == 0)))
        opened += [c for c, _ in done.cases]
        clock.ms += 7 * 3_600_000 if i % 4 == 3 else 1
        i += 1
    return opened


@pytest.mark.parametrize("shards", [1, 2, 3])
@pytest.mark.parametrize("order", ["newest", "oldest"])
async def test_pages_hold_every_case_once_in_order(make_queue, report, shards, order):
    clock = Clock(START)
    q = await make_queue(shards=shards, clock_ms=clock)
    opened = await _fill(q, report, clock, 37)
    pages = await _all_pages(q, CaseFilter(order=order), limit=5)
    seen = [c for page in pages for c in page]
    assert [len(p) for p in pages] == [5] * 7 + [2]  # the last page says so: no empty page after it
    assert sorted(c["id"] for c in seen) == sorted(opened)
    assert seen == sorted(seen, key=_key, reverse=order == "newest")
    if shards > 1:
        assert len({c["id"].rsplit("-", 1)[1] for c in seen}) == shards  # really merged over shards


async def test_default_is_newest_first_fifty(make_queue, report):
    clock = Clock(START)
    q = await make_queue(clock_ms=clock)
    await _fill(q, report, clock, 55)
    page = await q.listing.page(CaseFilter())
    assert len(page.cases) == 50 and page.next is not None
    assert page.cases[0]["created_at"] >= page.cases[-1]["created_at"]


async def _workflow(q: Any, report: Any, clock: Clock) -> dict[str, str]:
    """Cases in every status; returns case id -> the status the queue says it has."""
    await _fill(q, report, clock, 16)
    held = []
    for name in ("alice", "alice", "bob", "bob", "carol", "carol", "dave", "dave"):
        cid = await q.claim(name)
        assert cid is not None
        held.append((name, cid))
    await q.assess(held[0][1], "alice", "not_illegal")  # closed
    await q.assess(held[1][1], "alice", "baseline")  # assessed
    await q.assess(held[2][1], "bob", "baseline", actions=[{"type": "notice_and_takedown_sent"}])  # action_taken
    await q.assess(held[3][1], "bob", "baseline")
    await q.record_actions(held[3][1], "bob", [{"type": "content_removed"}])  # closed by the removal
    await q.release(held[4][1], "carol")  # queued again
    await q.reassign(held[6][1], "sup", "erin")  # in review, held by erin
    escalated = await q.get(held[5][1], with_reports=False)
    assert escalated["lane"] == "normal"  # escalated in review, then released: back into the urgent lane
    await q.submit(report(q, [escalated["url"]], child_in_immediate_danger=True))
    await q.release(held[5][1], "carol")
    assert (await q.get(held[5][1], with_reports=False))["lane"] == "urgent"
    statuses = {}
    holders.clear()
    for shard in range(q.shards):
        async for key in q.redis.scan_iter(match=f"{keys.tag(shard)}case:*"):
            if key.count(":") == 3:
                fields = await q.redis.hgetall(key)
                statuses[fields["id"]] = fields["status"]
                if fields.get("claimed_by"):
                    holders.append(fields["claimed_by"])
    assert set(statuses.values()) == set(STATUSES)
    return statuses


holders: list[str] = []  # who holds a case after the last _workflow


@pytest.mark.parametrize("shards", [1, 3])
async def test_each_filter_and_the_index_agrees_with_the_cases(make_queue, report, redis, shards):
    clock = Clock(START)
    q = await make_queue(shards=shards, clock_ms=clock)
    statuses = await _workflow(q, report, clock)
    for status in STATUSES:  # the scripts keep exactly the cases of a status in its index
        members = set()
        for shard in range(shards):
            members |= {m.split(":", 1)[1] for m in await redis.zrange(keys.case_index(shard, status), 0, -1)}
        assert members == {c for c, s in statuses.items() if s == status}, status
        listed = [c for p in await _all_pages(q, CaseFilter(statuses=(status,)), 3) for c in p]
        assert sorted(c["id"] for c in listed) == sorted(members) and {c["status"] for c in listed} == {status}
    open_ = [c for p in await _all_pages(q, CaseFilter(statuses=("queued", "in_review")), 4) for c in p]
    assert sorted(c["id"] for c in open_) == sorted(c for c, s in statuses.items() if s in ("queued", "in_review"))

    everything = [c for p in await _all_pages(q, CaseFilter(), 100) for c in p]
    urgent = [c for p in await _all_pages(q, CaseFilter(lane="urgent"), 2) for c in p]
    assert urgent and [c["id"] for c in urgent] == [c["id"] for c in everything if c["lane"] == "urgent"]
    assert sorted(holders) == ["dave", "erin"]
    for name in ("alice", "carol", "dave", "erin", "nobody"):
        held = [c for p in await _all_pages(q, CaseFilter(claimed_by=name), 2) for c in p]
        assert len(held) == holders.count(name) and all(c["claimed_by"] == name and c["status"] == "in_review" for c in held), name
    assert (await q.listing.page(CaseFilter(statuses=("closed",), claimed_by="carol"))).cases == []


async def test_since_and_until_are_creation_days_inclusive(make_queue, report):
    clock = Clock(START)
    q = await make_queue(clock_ms=clock)
    by_day: dict[str, list[str]] = {}
    for day in range(4):
        clock.ms = START + day * DAY_MS
        for i in range(3):
            done = await q.submit(report(q, [f"https://day-{day}-{i}.example/"]))
            by_day.setdefault(str(date(2027, 1, 15 + day)), []).append(done.cases[0][0])
            clock.ms += 1
    clock.ms = START + 3 * DAY_MS + (DAY_MS - 8 * 3_600_000) - 1  # the last millisecond of the fourth day
    last = (await q.submit(report(q, ["https://day-3-late.example/"]))).cases[0][0]
    by_day["2027-01-18"].append(last)

    def ids(f: CaseFilter) -> Any:
        return q.listing.page(f, limit=200)

    middle = await ids(CaseFilter(since=date(2027, 1, 16), until=date(2027, 1, 17), order="oldest"))
    assert [c["id"] for c in middle.cases] == by_day["2027-01-16"] + by_day["2027-01-17"]
    assert [c["id"] for c in (await ids(CaseFilter(since=date(2027, 1, 18)))).cases] == by_day["2027-01-18"][::-1]
    assert len((await ids(CaseFilter(until=date(2027, 1, 15)))).cases) == 3
    assert (await ids(CaseFilter(since=date(2030, 1, 1)))).cases == []
    assert len((await ids(CaseFilter(since=date(1, 1, 1), until=date(9999, 12, 31)))).cases) == 13


async def test_paging_while_cases_arrive_and_move_sees_each_once(make_queue, report):
    clock = Clock(START)
    q = await make_queue(shards=2, clock_ms=clock)
    before = set(await _fill(q, report, clock, 20))
    seen: list[str] = []
    page = await q.listing.page(CaseFilter(), limit=6)
    while True:
        seen += [c["id"] for c in page.cases]
        clock.ms += 1000
        await q.submit(report(q, [f"https://new-{len(seen)}.example/"]))  # sorts before the first page
        cid = await q.claim("alice")  # moves a case between status indexes
        assert cid is not None
        if page.next is None:
            break
        page = await q.listing.page(CaseFilter(), cursor=page.next, limit=6)
    assert len(seen) == len(set(seen)) and set(seen) == before


async def test_lane_filter_reads_a_bounded_number_per_page(make_queue, report, monkeypatch):
    monkeypatch.setattr(listing, "READ_BUDGET", 10)
    monkeypatch.setattr(listing, "READ_BATCH", 4)
    clock = Clock(START)
    q = await make_queue(shards=2, clock_ms=clock)
    urgent = []
    for i in range(40):
        done = await q.submit(report(q, [f"https://lane-{i}.example/"], child_in_immediate_danger=i in (3, 17, 38)))
        if i in (3, 17, 38):
            urgent.append(done.cases[0][0])
        clock.ms += 1
    pages = await _all_pages(q, CaseFilter(lane="urgent", order="oldest"), limit=2)
    assert len(pages) > 2 and any(len(p) < 2 for p in pages[:-1])  # short pages, yet the cursor goes on
    assert [c["id"] for p in pages for c in p] == urgent


@pytest.mark.parametrize("mangle", ["garbage!", "eyJmIjoiYSJ9", ""], ids=["junk", "no-position", "empty"])
async def test_a_cursor_of_another_listing_or_none_at_all_is_refused(make_queue, report, mangle):
    clock = Clock(START)
    q = await make_queue(clock_ms=clock)
    await _fill(q, report, clock, 4)
    cursor = (await q.listing.page(CaseFilter(statuses=("queued",)), limit=2)).next
    assert cursor is not None
    with pytest.raises(InvalidInput) as info:
        await q.listing.page(CaseFilter(statuses=("queued",), order="oldest"), cursor=cursor)
    assert info.value.code == "cursor_mismatch" and "cursor" in info.value.message
    if mangle:
        with pytest.raises(InvalidInput) as info:
            await q.listing.page(CaseFilter(statuses=("queued",)), cursor=mangle)
        assert info.value.code == "invalid_field" and info.value.message.startswith("cursor:")
    for bad in (0, 201):
        with pytest.raises(InvalidInput, match="^limit:"):
            await q.listing.page(CaseFilter(), limit=bad)


@pytest.mark.parametrize("kwargs, name", [
    ({"statuses": ("open",)}, "status"), ({"statuses": ()}, "status"), ({"lane": "slow"}, "lane"),
    ({"order": "random"}, "order"), ({"since": date(2027, 2, 1), "until": date(2027, 1, 1)}, "until"),
])
def test_bad_filters_name_themselves(kwargs, name):
    with pytest.raises(InvalidInput) as info:
        CaseFilter(**kwargs)
    assert info.value.message.startswith(f"{name}:")


async def test_cases_from_before_the_index_are_indexed_once_by_the_build(make_queue, report, redis):
    clock = Clock(START)
    q = await make_queue(shards=2, clock_ms=clock)
    statuses = await _workflow(q, report, clock)
    await redis.set("fd:{s0}:conversation-like:other", "x")  # other keys of the slot are not cases
    indexes = [keys.case_index(s, st) for s in range(2) for st in STATUSES]
    await redis.delete(*indexes, keys.case_index_built(0), keys.case_index_built(1))  # data from before the index
    assert (await q.listing.page(CaseFilter())).cases == []
    await q.setup()  # start-up never waits on the build: housekeeping runs it
    assert (await q.listing.page(CaseFilter())).cases == []
    assert await q.listing.build() == len(statuses)
    listed = [c for p in await _all_pages(q, CaseFilter(), 7) for c in p]
    assert {c["id"]: c["status"] for c in listed} == statuses
    assert await q.listing.build() == 0  # done once: the marker stops it
    await redis.delete(keys.case_index_built(0), keys.case_index_built(1))
    assert await q.listing.build() == 0  # and running it again adds nothing twice
    # A case indexed under a status it no longer has (a hand edit) moves to the right one.
    cid = next(c for c, s in statuses.items() if s == "closed")
    fields = await redis.hgetall(keys.case(int(cid.rsplit("-", 1)[1]), cid))
    shard = int(cid.rsplit("-", 1)[1])
    await redis.zrem(keys.case_index(shard, "closed"), listing.position(fields))
    await redis.zadd(keys.case_index(shard, "queued"), {listing.position(fields): 0})
    await redis.delete(keys.case_index_built(shard))
    assert await q.listing.build() == 1
    assert await redis.zscore(keys.case_index(shard, "queued"), listing.position(fields)) is None


async def test_the_build_stops_at_its_budget_and_goes_on_from_its_scan_cursor(make_queue, report, redis, monkeypatch):
    clock = Clock(START)
    q = await make_queue(clock_ms=clock)
    opened = await _fill(q, report, clock, 40)
    await redis.delete(*[keys.case_index(0, st) for st in STATUSES], keys.case_index_built(0))
    monkeypatch.setattr(listing, "SCAN_COUNT", 5)  # many SCAN steps over 40 cases and their other keys
    first = await q.listing.build(budget_s=0)  # one step, then the budget is spent
    state = await redis.get(keys.case_index_built(0))
    assert state.startswith("scan:") and state != "scan:0" and first < 40
    total = first
    for _ in range(1000):
        total += await q.listing.build(budget_s=0)
        if await redis.get(keys.case_index_built(0)) == "done":
            break
    assert total == 40 and await redis.get(keys.case_index_built(0)) == "done"
    listed = [c["id"] for p in await _all_pages(q, CaseFilter(), 50) for c in p]
    assert sorted(listed) == sorted(opened)  # each once: resuming never indexed a case twice


async def test_listing_and_index_build_on_a_redis_cluster(make_cluster_queue, report, cluster_redis):
    clock = Clock(START)
    q = await make_cluster_queue(clock_ms=clock)
    opened = await _fill(q, report, clock, 30)
    seen = [c for p in await _all_pages(q, CaseFilter(order="oldest"), 7) for c in p]
    assert [c["id"] for c in seen] == [c["id"] for c in sorted(seen, key=_key)] and sorted(opened) == sorted(c["id"] for c in seen)
    for shard in range(q.shards):
        await cluster_redis.delete(keys.case_index(shard, "queued"), keys.case_index_built(shard))
    assert await q.listing.build() == 30
    assert len([c for p in await _all_pages(q, CaseFilter(statuses=("queued",)), 50) for c in p]) == 30
