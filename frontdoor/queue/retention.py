"""Retention: the free text of closed cases is erased after the configured period; counts stay.

Closing a case schedules its reports and its analyst note in the shard's retention set
(see scripts.lua `close`). A report shared with a case that is still open keeps its text
until that case closes too: it is rescheduled, not erased.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

from .. import ids
from ..reports.build import now_iso
from ..storage import keys
from .triage import TriageQueue

log = logging.getLogger(__name__)
BATCH = 500
RECHECK_MS = 86_400_000


async def purge_expired(queue: TriageQueue) -> int:
    """Erase what is due; returns how many reports and cases had text erased."""
    redis, now, erased = queue.redis, queue.clock_ms(), 0
    for shard in range(queue.shards):
        due = await redis.zrangebyscore(keys.retention(shard), "-inf", now, start=0, num=BATCH)
        for member in due:
            kind, item = member.split(":", 1)
            if kind == "c":
                await redis.hdel(keys.case(shard, item), "note")
                erased += 1
            elif await _erase_report(queue, item):
                erased += 1
            else:
                await redis.zadd(keys.retention(shard), {member: now + RECHECK_MS})
                continue
            await redis.zrem(keys.retention(shard), member)
    if erased:
        log.info("retention erased the free text of %d reports and cases", erased)
    return erased


async def _erase_report(queue: TriageQueue, report_id: str) -> bool:
    redis = queue.redis
    shard = ids.shard_of(report_id)
    rkey = keys.report(shard, report_id)
    raw, cases = await redis.mget([rkey, keys.report_cases(shard, report_id)])  # one slot: MGET is fine
    if raw is None:
        return True
    pipe = redis.pipeline(transaction=False)
    for cid in (cases or "").split():
        pipe.hget(keys.case(ids.shard_of(cid), cid), "status")
    if any(status != "closed" for status in await pipe.execute()):
        return False
    doc = json.loads(raw)
    doc["description"] = None
    doc["contact"] = None
    if doc.get("where_seen"):
        doc["where_seen"]["account"] = None
    doc["erased_at"] = now_iso(datetime.fromtimestamp(queue.clock_ms() / 1000, timezone.utc))
    await redis.set(rkey, json.dumps(doc, separators=(",", ":"), ensure_ascii=False))
    return True
