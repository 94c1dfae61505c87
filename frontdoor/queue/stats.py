"""The figures a hotline publishes, summed across shards from per-day counters.

Counters are written by the queue scripts as things happen (reports, cases, classifications,
actions), so reading statistics never scans cases. Durations are kept per day as plain
lists of seconds because a median needs the distribution, not a running mean.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any

from ..storage import keys
from .triage import TriageQueue

METRICS = {"assess": "to_first_assessment", "forward": "to_forwarding", "removal": "to_removal"}
MAX_DAYS = 3660


async def collect(queue: TriageQueue, since: date, until: date) -> dict[str, Any]:
    if until < since:
        raise ValueError("until is before since")
    if (until - since).days >= MAX_DAYS:
        raise ValueError(f"ask for at most {MAX_DAYS} days at a time")
    redis = queue.redis
    pipe = redis.pipeline(transaction=False)
    for shard in range(queue.shards):
        pipe.smembers(keys.stats_days(shard))
    wanted = {d for days in await pipe.execute() for d in days if since.isoformat() <= d <= until.isoformat()}
    days = sorted(wanted)

    pipe = redis.pipeline(transaction=False)
    for day in days:
        for shard in range(queue.shards):
            pipe.hgetall(keys.stats(shard, day))
            for metric in METRICS:
                pipe.lrange(keys.timing(shard, metric, day), 0, -1)
    replies = iter(await pipe.execute())

    per_day: dict[str, Counter[str]] = {}
    durations: dict[str, list[float]] = defaultdict(list)
    for day in days:
        counter: Counter[str] = Counter()
        for _shard in range(queue.shards):
            counter.update({k: int(v) for k, v in next(replies).items()})
            for metric in METRICS:
                durations[metric] += [float(x) for x in next(replies)]
        per_day[day] = counter

    totals: Counter[str] = Counter()
    for counter in per_day.values():
        totals.update(counter)
    sent = totals["ntd_sent"]
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "totals": _shape(totals),
        "days": [{"day": day, **_shape(per_day[day])} for day in days],
        "median_seconds": {name: (statistics.median(durations[m]) if durations[m] else None) for m, name in METRICS.items()},
        "notice_and_takedown": {
            "sent": sent,
            "removed_within_3_days": totals["ntd_removed_3d"],
            "removed_within_7_days": totals["ntd_removed_7d"],
            # The network's headline figures: of the notices sent in the period, the share removed in time.
            "share_removed_within_3_days": round(totals["ntd_removed_3d"] / sent, 4) if sent else None,
            "share_removed_within_7_days": round(totals["ntd_removed_7d"] / sent, 4) if sent else None,
        },
        "queue": await queue.depth(),
    }


def _shape(counter: Counter[str]) -> dict[str, Any]:
    def group(prefix: str) -> dict[str, int]:
        return {k[len(prefix):]: v for k, v in sorted(counter.items()) if k.startswith(prefix)}

    return {
        "reports": counter["reports"],
        "urgent_reports": counter["reports:urgent"],
        "cases": counter["cases"],
        "reports_by_channel": group("reports:channel:"),
        "reports_by_category": group("reports:category:"),
        "cases_by_channel": group("cases:channel:"),
        "cases_by_category": group("cases:category:"),
        "cases_by_classification": group("cases:classification:"),
        "actions": group("actions:"),
    }


def default_range(today: date, days: int = 30) -> tuple[date, date]:
    return today - timedelta(days=days - 1), today
