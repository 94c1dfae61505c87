"""The queue, analysts, statistics, retention and the HTTP app on a real Redis Cluster.

Three primaries (conftest.redis_clusters), once per redis-server binary found, and a queue of four
shards whose hash tags land on all three nodes. What this proves beyond the single-node suite:
every script and multi-key command stays in one slot (the cluster refuses anything else, see the
`rejects` tests), cross-shard reads work through redis-py's cluster pipeline, and
FRONTDOOR_REDIS_URL's cluster form reaches the app and the CLI.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from support.clock import Clock
import redis.asyncio as aioredis
from support.api import ANALYST_PREFIX, ok_json, receipt_status, submit
from redis.exceptions import ClusterCrossSlotError, RedisClusterException, ResponseError

from frontdoor.reports import urls
from frontdoor.api.accounts import Analysts
from frontdoor.errors import Conflict, NotFound
from frontdoor.queue import AlreadySubmitted, stats
from frontdoor.storage import keys
from frontdoor.queue.retention import purge_expired
from support.servers import LocalCluster

DAY_MS = 86_400_000
SHARDS = 4


def urls_in_shard(shard: int, count: int, *, shards: int = SHARDS, stem: str = "site") -> list[str]:
    """`count` distinct reserved-domain URLs whose normalized form falls in `shard`."""
    found: list[str] = []
    i = 0
    while len(found) < count:
        url = f"https://{stem}-{i}.example/"
        if keys.shard_for(urls.normalize(url), shards) == shard:
            found.append(url)
        i += 1
    return found


def one_per_shard(stem: str = "site") -> list[str]:
    return [urls_in_shard(s, 1, stem=stem)[0] for s in range(SHARDS)]


async def slot_owners(client: aioredis.RedisCluster) -> dict[int, int]:
    """slot -> port of the primary serving it, from the cluster's own CLUSTER SLOTS."""
    owners = {}
    for (start, end), node in (await client.cluster_slots()).items():
        for slot in range(start, end + 1):
            owners[slot] = int(node["primary"][1])
    return owners


@pytest.fixture
async def node_clients(redis_cluster: LocalCluster) -> AsyncIterator[dict[int, aioredis.Redis]]:
    """Plain clients to each node: SCAN on one node lists that node's keys only."""
    clients = {port: aioredis.Redis(port=port, decode_responses=True) for port in redis_cluster.ports}
    yield clients
    for client in clients.values():
        await client.aclose()


async def keys_by_node(node_clients: dict[int, aioredis.Redis]) -> dict[int, set[str]]:
    return {port: {k async for k in client.scan_iter("*")} for port, client in node_clients.items()}


# -- the cluster is real, and so are its guards ----------------------------------------------------


async def test_cluster_is_up_and_shards_land_on_every_node(cluster_redis, redis_cluster, node_clients, cluster_version):
    for client in node_clients.values():
        info = await client.execute_command("CLUSTER INFO")
        assert info["cluster_state"] == "ok" and info["cluster_known_nodes"] == "3"
        assert (await client.info("server"))["redis_version"] == cluster_version
    owners = await slot_owners(cluster_redis)
    assert len(owners) == 16384 and set(owners.values()) == set(redis_cluster.ports)
    nodes_of_shards = set()
    for shard in range(SHARDS):
        key = keys.lane(shard, "urgent")
        slot = await cluster_redis.cluster_keyslot(key)  # the server's CLUSTER KEYSLOT
        assert slot == cluster_redis.keyslot(key) == cluster_redis.keyslot(keys.tag(shard) + "anything")
        nodes_of_shards.add(owners[slot])
    assert nodes_of_shards == set(redis_cluster.ports), "the four shards should spread over all three nodes"


async def test_cluster_rejects_one_command_or_script_over_two_slots(cluster_redis):
    node = cluster_redis.get_node_from_key(keys.tag(0))
    # Two declared keys in two slots: redis-py refuses before sending ...
    with pytest.raises(RedisClusterException, match="same key slot"):
        await cluster_redis.eval("return 1", 2, keys.lane(0, "urgent"), keys.lane(1, "urgent"))
    # ... and sent anyway, straight to a node that serves the first, the server says CROSSSLOT.
    with pytest.raises(ClusterCrossSlotError):
        await cluster_redis.execute_command("EVAL", "return 1", 2, keys.lane(0, "urgent"), keys.lane(1, "urgent"),
                                            target_nodes=node)
    with pytest.raises(ClusterCrossSlotError):
        await cluster_redis.execute_command("MSET", keys.tag(0) + "a", "1", keys.tag(1) + "b", "1", target_nodes=node)
    # A script that reaches an undeclared key on another node fails as well.
    other = next(s for s in range(64) if cluster_redis.get_node_from_key(keys.tag(s)) != node)
    with pytest.raises(ResponseError, match="non local key"):
        await cluster_redis.eval("return redis.call('SET', ARGV[1], '1')", 1, keys.tag(0) + "x", keys.tag(other) + "x")


async def test_queue_scripts_refuse_a_shard_tag_other_than_their_keys(make_cluster_queue, cluster_redis):
    """Redis lets a legacy EVAL touch undeclared keys of another slot on the same node; the scripts'
    prelude refuses it, so a mix-up fails here and not after a resharding."""
    q = await make_cluster_queue()
    node = cluster_redis.get_node_from_key(keys.tag(0))
    neighbour = next(s for s in range(1, 64) if cluster_redis.get_node_from_key(keys.tag(s)) == node
                     and cluster_redis.keyslot(keys.tag(s)) != cluster_redis.keyslot(keys.tag(0)))
    with pytest.raises(ResponseError, match="outside the shard"):
        await q._claim(keys=[keys.lane(0, "urgent")], args=[keys.tag(neighbour), "a", 60_000, q.clock_ms(), "urgent"])
    with pytest.raises(ResponseError, match="outside the shard"):  # a prefix without a hash tag is refused too
        await q._claim(keys=[keys.lane(0, "urgent")], args=["fd:", "a", 60_000, q.clock_ms(), "urgent"])


# -- the queue -----------------------------------------------------------------------------------------


async def test_report_over_all_shards_fans_out_and_keys_stay_on_their_nodes(make_cluster_queue, report, cluster_redis,
                                                                              node_clients):
    q = await make_cluster_queue()
    url_list = [u for s in range(SHARDS) for u in urls_in_shard(s, 2)]
    sub = await q.submit(report(q, url_list))
    assert len(sub.cases) == 8 and {o for _, o in sub.cases} == {"opened"}
    assert {int(c.rsplit("-", 1)[1]) for c, _ in sub.cases} == set(range(SHARDS))
    home = int(sub.report_id.rsplit("-", 1)[1])
    assert await cluster_redis.zcard(keys.fanout(home)) == 0  # every other shard confirmed
    assert sorted((await cluster_redis.get(keys.report_cases(home, sub.report_id))).split()) == sorted(c for c, _ in sub.cases)
    for case_id, _ in sub.cases:
        case = await q.get(case_id)
        assert q.shard_of_url(case["url"]) == int(case_id.rsplit("-", 1)[1])
        assert case["reports"][0]["id"] == sub.report_id
    owners = await slot_owners(cluster_redis)
    placed = await keys_by_node(node_clients)
    assert all(placed.values()), "every node holds some of the queue"
    for port, names in placed.items():
        for name in names:
            assert name.startswith("fd:{s"), name
            assert owners[cluster_redis.keyslot(name)] == port, name


async def test_one_url_many_reports_make_one_case(make_cluster_queue, report, cluster_redis):
    q = await make_cluster_queue()
    url = urls_in_shard(3, 1)[0]
    variants = [f"{url}?utm_source=x{i}#top" for i in range(40)]
    results = await asyncio.gather(*(q.submit(report(q, [v])) for v in variants))
    assert len({r.cases[0][0] for r in results}) == 1
    case_id = results[0].cases[0][0]
    assert case_id.endswith("-3")
    assert (await q.get(case_id, with_reports=False))["report_count"] == 40
    assert await cluster_redis.xlen(keys.lane(3, "normal")) == 1
    assert sum([await cluster_redis.xlen(keys.lane(s, "normal")) for s in range(SHARDS)]) == 1
    assert len({r.receipt for r in results}) == 40


async def test_claim_reads_across_shards_urgent_first_then_oldest(make_cluster_queue, report):
    q = await make_cluster_queue()

    async def submit_in_turn(url_list: list[str], **fields: object) -> list[str]:
        out = []
        for url in url_list:
            out.append((await q.submit(report(q, [url], **fields))).cases[0][0])
            await asyncio.sleep(0.003)  # distinct stream ids: "oldest" is well defined across shards
        return out

    normal = await submit_in_turn(one_per_shard("normal") + one_per_shard("later"))
    urgent = await submit_in_turn(one_per_shard("urgent"), child_in_immediate_danger=True)
    # Each shard's lane keeps a claimed entry until it is assessed, so ordering by the lanes' heads is
    # oldest-first across shards for an analyst who assesses before claiming the next case.
    order = []
    while (case_id := await q.claim("a")) is not None:
        order.append(case_id)
        await q.assess(case_id, "a", "not_illegal")
    assert order == urgent + normal
    assert await q.depth() == {"urgent": {"in_queue": 0, "claimed": 0}, "normal": {"in_queue": 0, "claimed": 0}}


async def test_many_claimers_across_shards_never_share(make_cluster_queue, report):
    q = await make_cluster_queue()
    for shard in range(SHARDS):
        for url in urls_in_shard(shard, 10, stem=f"many-{shard}"):
            await q.submit(report(q, [url], child_in_immediate_danger=url.endswith("3.example/")))
    taken: list[str] = []

    async def analyst(name: str) -> None:
        while (case_id := await q.claim(name)) is not None:
            taken.append(case_id)
            await asyncio.sleep(0)
            await q.assess(case_id, name, "not_illegal")

    await asyncio.gather(*(analyst(f"analyst-{n}") for n in range(8)))
    assert len(taken) == len(set(taken)) == 10 * SHARDS
    assert await q.depth() == {"urgent": {"in_queue": 0, "claimed": 0}, "normal": {"in_queue": 0, "claimed": 0}}


async def test_lapsed_lease_hands_the_case_on(make_cluster_queue, report):
    q = await make_cluster_queue(lease_ms=300)
    case_id = (await q.submit(report(q, urls_in_shard(2, 1)))).cases[0][0]
    assert await q.claim("alice") == case_id
    assert await q.claim("bob") is None
    await asyncio.sleep(0.45)
    assert await q.claim("bob") == case_id
    with pytest.raises(Conflict):
        await q.assess(case_id, "alice", "baseline")
    assert await q.assess(case_id, "bob", "not_illegal") == "closed"
    assert ("lease_taken_over", "bob") in [(e["what"], e["by"]) for e in (await q.get(case_id))["audit"]]


async def test_assess_actions_and_receipt_over_shards(make_cluster_queue, report):
    q = await make_cluster_queue()
    sub = await q.submit(report(q, one_per_shard()))
    assert await q.receipt_status(sub.receipt) == "received"
    held = [await q.claim("a") for _ in range(SHARDS)]
    assert sorted(held) == sorted(c for c, _ in sub.cases)
    assert await q.receipt_status(sub.receipt) == "in_review"
    first, *rest = held
    assert await q.assess(first, "a", "baseline", hosting_country="NL",
                          actions=[{"type": "notice_and_takedown_sent"}]) == "action_taken"
    for case_id in rest:
        assert await q.assess(case_id, "a", "not_illegal") == "closed"
    assert await q.receipt_status(sub.receipt.lower()) == "action_taken"
    assert await q.record_actions(first, "a", [{"type": "content_removed", "reference": "ref-1"}]) == "closed"
    assert await q.receipt_status(sub.receipt) == "closed"
    with pytest.raises(Conflict):
        await q.record_actions(first, "a", [{"type": "content_removed"}])
    with pytest.raises(NotFound):
        await q.get(f"01M8BYPQ3BFTB6RWQA0V21FADC-{SHARDS - 1}")
    again = await q.submit(report(q, [one_per_shard()[int(first.rsplit("-", 1)[1])]]))
    assert again.cases[0][1] == "reopened"
    found = await q.find_by_url(one_per_shard()[int(first.rsplit("-", 1)[1])])
    assert [c["id"] for c in found] == [again.cases[0][0], first]


async def test_a_dedupe_id_over_shards_makes_one_report_and_no_fan_out(make_cluster_queue, report, cluster_redis):
    q = await make_cluster_queue()
    url_list = one_per_shard()
    first = await q.submit(report(q, url_list), dedupe_id="mid-1", dedupe_ttl_s=600)
    home = int(first.report_id.rsplit("-", 1)[1])
    duplicate = report(q, url_list)
    assert int(duplicate["id"].rsplit("-", 1)[1]) == home  # the same first URL: the same home shard
    with pytest.raises(AlreadySubmitted):
        await q.submit(duplicate, dedupe_id="mid-1", dedupe_ttl_s=600)
    assert await cluster_redis.get(keys.submitted(home, "mid-1")) == f"{first.report_id} {first.receipt}"
    assert await cluster_redis.zcard(keys.fanout(home)) == 0  # the refused report waits for no fan-out
    assert sorted([await q.claim("a") for _ in range(SHARDS)]) == sorted(c for c, _ in first.cases)
    assert await q.claim("a") is None


async def test_release_renew_and_reassign(make_cluster_queue, report):
    q = await make_cluster_queue()
    case_id = (await q.submit(report(q, urls_in_shard(1, 1)))).cases[0][0]
    assert await q.claim("a") == case_id
    await q.renew(case_id, "a")
    await q.release(case_id, "a")
    assert await q.claim("b") == case_id
    await q.reassign(case_id, "sup", "c")
    assert await q.assess(case_id, "c", "duplicate") == "closed"


async def test_interrupted_fan_out_is_completed(make_cluster_queue, report, cluster_redis):
    clock = Clock(1_800_000_000_000)
    q = await make_cluster_queue(clock_ms=clock)
    r = report(q, [u for s in range(SHARDS) for u in urls_in_shard(s, 2)])
    home = int(r["id"].rsplit("-", 1)[1])
    mine = [u for u in r["urls"] if q.shard_of_url(u["normalized"]) == home]
    await cluster_redis.zadd(keys.fanout(home), {r["id"]: clock.ms})  # what a crash after the home script leaves
    await q._run_submit(home, r, clock.ms, True, json.dumps(r), "AAAAA-BBBBB", mine)
    assert len((await cluster_redis.get(keys.report_cases(home, r["id"]))).split()) == 2
    clock.ms += 120_000
    assert await q.recover_fanout() == 1
    cases = (await cluster_redis.get(keys.report_cases(home, r["id"]))).split()
    assert len(cases) == 8 and cases[:2] == [c for c in cases if c.endswith(f"-{home}")]
    await cluster_redis.zadd(keys.fanout(home), {r["id"]: 0})
    assert await q.recover_fanout() == 1  # idempotent: the same cases, no duplicates
    assert (await cluster_redis.get(keys.report_cases(home, r["id"]))).split() == cases


async def test_statistics_sum_over_shards(make_cluster_queue, report):
    clock = Clock(int(datetime(2026, 3, 2, 9, tzinfo=timezone.utc).timestamp() * 1000))
    q = await make_cluster_queue(clock_ms=clock)
    await q.submit(report(q, one_per_shard()))
    await q.submit(report(q, [one_per_shard()[0]], category="grooming"))  # joins: a report, no case
    clock.ms += 3_600_000
    held = [await q.claim("a") for _ in range(SHARDS)]
    for case_id in held:
        await q.assess(case_id, "a", "baseline", actions=[{"type": "notice_and_takedown_sent"}])
    clock.ms += DAY_MS
    await q.record_actions(held[0], "a", [{"type": "content_removed"}])
    figures = await stats.collect(q, date(2026, 3, 1), date(2026, 3, 31))
    totals = figures["totals"]
    assert (totals["reports"], totals["cases"]) == (2, SHARDS)
    assert totals["reports_by_category"] == {"csam": 1, "grooming": 1}
    assert totals["cases_by_classification"] == {"baseline": SHARDS}
    assert figures["notice_and_takedown"]["sent"] == SHARDS and figures["notice_and_takedown"]["removed_within_3_days"] == 1
    assert figures["median_seconds"]["to_first_assessment"] == 3600
    assert figures["queue"] == {"urgent": {"in_queue": 0, "claimed": 0}, "normal": {"in_queue": 0, "claimed": 0}}


async def test_retention_erases_over_shards_once_every_case_is_closed(make_cluster_queue, report):
    clock = Clock(1_800_000_000_000)
    q = await make_cluster_queue(clock_ms=clock, retention_ms=30 * DAY_MS)
    a, b = urls_in_shard(0, 1)[0], urls_in_shard(2, 1)[0]
    shared = await q.submit(report(q, [a, b], description="placeholder text", contact="someone@example.com",
                                   contact_consent=True))
    by_shard = {int(c.rsplit("-", 1)[1]): c for c, _ in shared.cases}
    for _ in range(2):
        await q.claim("a")
    await q.assess(by_shard[0], "a", "not_illegal", note="placeholder note")
    clock.ms += 31 * DAY_MS
    assert await purge_expired(q) == 1  # the closed case's note; the report waits for the shard-2 case
    (doc,) = await q.reports([shared.report_id])
    assert doc["description"] == "placeholder text" and (await q.get(by_shard[0]))["note"] is None
    await q.assess(by_shard[2], "a", "duplicate")
    clock.ms += 31 * DAY_MS
    assert await purge_expired(q) >= 1
    (doc,) = await q.reports([shared.report_id])
    assert doc["description"] is None and doc["contact"] is None and doc["erased_at"]


# -- analysts ------------------------------------------------------------------------------------------


async def test_analysts_add_authenticate_revoke(cluster_redis, keyring):
    analysts = Analysts(cluster_redis, keyring)
    token = await analysts.add("alice", "supervisor")
    with pytest.raises(Conflict):
        await analysts.add("alice", "analyst")
    who = await analysts.authenticate(token)
    assert who is not None and (who.name, who.is_supervisor) == ("alice", True)
    assert await analysts.names() == ["alice"]
    await analysts.revoke("alice")
    assert await analysts.authenticate(token) is None and await analysts.names() == []
    with pytest.raises(NotFound):
        await analysts.revoke("alice")
    assert {k async for k in cluster_redis.scan_iter("*")} == set()  # nothing left behind


# -- the app and the CLI with the cluster URL ---------------------------------------------------------


async def test_app_on_the_cluster_takes_a_report_and_hands_out_its_cases(aiohttp_client, settings, cluster_redis,
                                                                          redis_cluster):
    from frontdoor.api.appkeys import ACCOUNTS, QUEUE
    from frontdoor.app import create_app

    app = create_app(dataclasses.replace(settings, queue_shards=SHARDS), redis_cluster.url, housekeeping=False)
    client = await aiohttp_client(app)
    assert isinstance(app[QUEUE].redis, aioredis.RedisCluster)
    assert (await ok_json(await client.get("/readyz")))["status"] == "ready"
    body = await submit(client, category="csam", urls=one_per_shard(), child_in_immediate_danger=True)
    assert await receipt_status(client, body["receipt"]) == "received"
    token = await app[ACCOUNTS].add("alice", "analyst")
    headers = {"Authorization": f"Bearer {token}"}
    claimed = [await ok_json(await client.post(f"{ANALYST_PREFIX}/claim", headers=headers)) for _ in range(SHARDS)]
    assert {c["lane"] for c in claimed} == {"urgent"} and {int(c["id"].rsplit("-", 1)[1]) for c in claimed} == set(range(SHARDS))
    assert (await client.post(f"{ANALYST_PREFIX}/claim", headers=headers)).status == 204
    assert await receipt_status(client, body["receipt"]) == "in_review"
    case = await ok_json(await client.post(f"{ANALYST_PREFIX}/cases/{claimed[0]['id']}/assessment", headers=headers,
                                           json={"classification": "not_illegal"}))
    assert case["status"] == "closed"
    figures = await ok_json(await client.get(f"{ANALYST_PREFIX}/stats", headers=headers))
    assert figures["totals"]["reports"] == 1 and figures["totals"]["cases"] == SHARDS


async def test_a_web_conversation_served_by_two_apps_on_the_cluster(aiohttp_client, settings, cluster_redis, redis_cluster):
    """Two app processes, each with its own conversation cache, take turns on one chat: the commit
    script (one slot per conversation) and the rate limiter's flushed counts (other slots, often other
    nodes) work on a cluster, and every stale cache is caught and the turn computed again."""
    from frontdoor.app import create_app

    cluster_settings = dataclasses.replace(settings, queue_shards=SHARDS)
    apps = [await aiohttp_client(create_app(cluster_settings, redis_cluster.url, housekeeping=False)) for _ in range(2)]
    started = await apps[0].post("/api/v1/conversations", json={"locale": "en"})
    assert started.status == 201
    token = (await started.json())["conversation"]
    path = ["report", "csam", one_per_shard("chat")[0], "website", "skip", "no", "other_adult", "skip", "skip", "send"]
    for i, answer in enumerate(path):
        r = await apps[(i + 1) % 2].post(f"/api/v1/conversations/{token}/messages", json={"payload": answer})
        assert r.status == 200, await r.text()
    body = await r.json()
    assert body["state"] == "submitted"
    assert await receipt_status(apps[0], body["receipt"]) == "received"
    for app in apps:
        await app.close()  # the app's shutdown sends the rate counts still waiting
    counters = [k async for k in cluster_redis.scan_iter("fd:{rl:*")]
    assert counters
    for counter in counters:
        assert 0 < await cluster_redis.ttl(counter) <= 120


def test_cli_manages_analysts_and_reads_stats_on_the_cluster(tmp_path: Path, redis_cluster, cluster_redis):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDOOR_")}
    env.update(FRONTDOOR_REDIS_URL=redis_cluster.url, FRONTDOOR_QUEUE_SHARDS=str(SHARDS), FRONTDOOR_DATA_DIR=str(tmp_path))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "frontdoor", *args], env=env, capture_output=True, text=True, timeout=60)

    added = cli("analyst", "add", "bob")
    assert added.returncode == 0 and "fdt_" in added.stdout, added.stderr
    figures = cli("queue", "stats", "--days", "7")
    assert figures.returncode == 0, figures.stderr
    assert json.loads(figures.stdout)["queue"] == {"urgent": {"in_queue": 0, "claimed": 0}, "normal": {"in_queue": 0, "claimed": 0}}
    assert cli("analyst", "revoke", "bob").returncode == 0
    assert cli("analyst", "revoke", "bob").returncode == 1


def test_every_pipeline_says_it_is_not_a_transaction(repo_root: Path) -> None:
    """`pipeline()` is a MULTI on one Redis but not on a cluster, so code leaning on its atomicity
    would pass the single-node tests and lose it in production: atomic changes are Lua scripts."""
    import re

    for path in (repo_root / "frontdoor").rglob("*.py"):
        source = path.read_text()
        for call in re.findall(r"\.pipeline\(([^)]*)\)", source):
            assert call.strip() == "transaction=False", f"{path}: pipeline({call})"
        assert not re.search(r"\.(watch|multi)\(", source), path


async def test_auto_pipelined_commands_over_many_slots_each_get_their_reply(cluster_redis):
    """Conversation writes share pipelines (redis_client.AutoPipeline); on a cluster a batch holds
    keys of many slots on several nodes, which redis-py's cluster pipeline splits and answers in order."""
    from frontdoor.storage.client import AutoPipeline

    batched = AutoPipeline(cluster_redis, timeout_s=5)
    keys_ = [f"auto:{{c:{i}}}:state" for i in range(40)]
    replies = await asyncio.gather(*(batched.execute_command("INCRBY", k, i + 1) for i, k in enumerate(keys_)))
    assert replies == [i + 1 for i in range(40)]
    assert [int(v) for v in await asyncio.gather(*(cluster_redis.get(k) for k in keys_))] == [i + 1 for i in range(40)]


async def test_auto_pipelined_commands_share_one_write_a_node_and_fail_alone(cluster_redis, monkeypatch):  # type: ignore[no-untyped-def]
    """On a cluster too: a pass of the loop's commands go as one pipeline (one write to each node),
    an error reply or a value that cannot be sent is its caller's only, and a script sent by SHA
    that the nodes do not have answers NOSCRIPT, which storage.scripts.Script falls back on."""
    from redis.exceptions import DataError, NoScriptError

    from support.redisdb import count_round_trips

    from frontdoor.storage.client import AutoPipeline

    batched = AutoPipeline(cluster_redis, timeout_s=5)
    keys_ = [f"auto:{{c:{i}}}:n" for i in range(30)]
    await cluster_redis.set("auto:{text}", "not a number")
    assert await batched.execute_command("INCR", keys_[0]) == 1  # slots known, connections made
    sent = count_round_trips(monkeypatch)
    results = await asyncio.gather(*(batched.execute_command("INCR", k) for k in keys_),
                                   batched.execute_command("INCR", "auto:{text}"),
                                   batched.execute_command("SET", "auto:{none}", None),
                                   batched.execute_command("EVALSHA", "0" * 40, 1, "auto:{sha}"),
                                   return_exceptions=True)
    assert results[:30] == [2] + [1] * 29
    assert type(results[30]) is ResponseError and "not an integer" in str(results[30])
    assert isinstance(results[31], DataError) and isinstance(results[32], NoScriptError)
    assert 1 <= sent[0] <= 3  # one write to each of the three primaries, not thirty-two
    assert await cluster_redis.exists("auto:{none}") == 0
