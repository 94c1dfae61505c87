"""Listing cases by status, lane, holder and period, newest or oldest first, a page at a time.

Why an index per status rather than filtering one time-ordered index on read: the queue's cases are
mostly closed ones, so "what is still queued" read off one index of every case would walk the whole
history for a handful of hits. Each shard keeps one sorted set per status (keys.case_index); the
scripts move a case between them in the same script that changes its `status` field (scripts.lua
`set_status`), so the index never disagrees with the hash. A submit pays one ZADD per case it opens.
Lane and holder are read from the cases themselves (few pass a status filter; claimed_by only
in_review cases have, so a claimed_by filter reads only that index).

Members sort by creation time, then case id: a page is the first `limit` members past the cursor's
position, merged over every (shard, status) index that the filter names. The cursor holds that
position and a digest of the filters, so it stays valid while cases arrive (new ones sort at the
newest end) or change status, and refuses to be reused with other filters.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from time import monotonic
from typing import Any

from ..errors import InvalidInput
from ..storage import keys
from ..storage.client import Client
from ..storage.scripts import Script, source
from .views import case_view

STATUSES = ("queued", "in_review", "assessed", "action_taken", "closed")
ORDERS = ("newest", "oldest")
DEFAULT_LIMIT, MAX_LIMIT = 50, 200
# Cases read per page at most when lane or claimed_by filter on read: past it a page comes back short,
# with a cursor to go on from, so one request never walks a shard's whole history.
READ_BUDGET = 2000
READ_BATCH = 200
SCAN_COUNT = 1000
_POSITION = re.compile(r"^[0-9]{13}:[0-9A-HJKMNP-TV-Z]{26}-[0-9]{1,4}$")
_MAX_MS = 10**13 - 1  # 13 digits: until the year 2286


@dataclass(frozen=True)
class CaseFilter:
    statuses: tuple[str, ...] = STATUSES
    lane: str | None = None
    claimed_by: str | None = None
    since: date | None = None  # on the case's creation day (UTC), inclusive
    until: date | None = None  # inclusive
    order: str = "newest"

    def __post_init__(self) -> None:
        if not self.statuses or set(self.statuses) - set(STATUSES):
            raise InvalidInput(f"status: one or more of {', '.join(STATUSES)}, comma-separated", code="invalid_field")
        if len(set(self.statuses)) != len(self.statuses):  # twice would list each of its cases twice
            raise InvalidInput("status: give each status once", code="invalid_field")
        if self.lane is not None and self.lane not in keys.LANES:
            raise InvalidInput(f"lane: one of {', '.join(keys.LANES)}", code="invalid_field")
        if self.order not in ORDERS:
            raise InvalidInput(f"order: one of {', '.join(ORDERS)}", code="invalid_field")
        if self.since and self.until and self.until < self.since:
            raise InvalidInput("until: not before since", code="invalid_field")

    def digest(self) -> str:
        fields = [sorted(self.statuses), self.lane, self.claimed_by, str(self.since), str(self.until), self.order]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Page:
    cases: list[dict[str, Any]]
    next: str | None  # the cursor of the next page; None on the last


def position(fields: dict[str, str]) -> str:
    """A case's member in the indexes (scripts.lua `position`)."""
    return f"{int(fields['created_at']):013d}:{fields['id']}"


def _day_ms(day: date, *, end: bool = False) -> str:
    """The day's first millisecond, or (`end`) the next day's, as 13 digits (not via a date: 9999-12-31 has none after it)."""
    ms = int(datetime.combine(day, time(), timezone.utc).timestamp() * 1000) + (86_400_000 if end else 0)
    return f"{min(max(ms, 0), _MAX_MS):013d}"


def encode_cursor(filters: CaseFilter, at: str) -> str:
    raw = json.dumps({"f": filters.digest(), "p": at}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(filters: CaseFilter, cursor: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        at, digest = data["p"], data["f"]
        if not isinstance(at, str) or not _POSITION.match(at):
            raise ValueError(at)
    except (ValueError, TypeError, KeyError):
        raise InvalidInput("cursor: not a cursor this listing gave (pass `next` from the last page as it is)",
                           code="invalid_field") from None
    if digest != filters.digest():
        raise InvalidInput("cursor: it belongs to a listing with other filters (status, lane, claimed_by, since, "
                           "until, order); start again without a cursor", code="cursor_mismatch")
    return at


class CaseIndex:
    def __init__(self, redis: Client, shards: int) -> None:
        self.redis = redis
        self.shards = shards
        self._index = Script(redis, source(__package__, "scripts.lua", "index_cases.lua"))

    async def build(self, *, budget_s: float = 20.0) -> int:
        """Index the cases stored before the index existed, a SCAN step at a time, for at most `budget_s`:
        housekeeping calls it every run until every shard's marker says "done", and it goes on from the
        SCAN cursor the marker keeps, so a Redis holding millions of old cases is indexed over several
        runs without holding up start-up or the retention that runs before it. Safe from several
        processes at once (a case indexed twice is one member). Returns how many it added."""
        added = 0
        deadline = monotonic() + budget_s
        for shard in range(self.shards):
            marker = keys.case_index_built(shard)
            state = await self.redis.get(marker)
            if state in ("1", "done"):  # "1": marked done by the first version of this code
                continue
            cursor = state.removeprefix("scan:") if state and state.startswith("scan:") else "0"
            while True:
                cursor, n = await self._index([marker], [keys.tag(shard), cursor, SCAN_COUNT, ",".join(STATUSES)])
                added += int(n)
                if str(cursor) == "0":
                    await self.redis.set(marker, "done")
                    break
                await self.redis.set(marker, f"scan:{cursor}")
                if monotonic() >= deadline:
                    return added
        return added

    async def page(self, filters: CaseFilter, *, cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> Page:
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit: from 1 to {MAX_LIMIT}", code="invalid_field")
        at = decode_cursor(filters, cursor) if cursor is not None else None
        statuses = filters.statuses
        if filters.claimed_by is not None:  # only a case in review has a holder (scripts.lua: claim, reassign)
            statuses = tuple(s for s in statuses if s == "in_review")
        sources = [keys.case_index(shard, s) for shard in range(self.shards) for s in statuses]
        newest = filters.order == "newest"
        # Lexicographic bounds: a day's start as 13 digits sorts before every member of that millisecond.
        low = "[" + _day_ms(filters.since) if filters.since else "-"
        high = "(" + _day_ms(filters.until, end=True) if filters.until else "+"
        filtered_on_read = filters.lane is not None or filters.claimed_by is not None
        found: list[dict[str, Any]] = []
        read = 0
        while sources:
            want = READ_BATCH if filtered_on_read else limit - len(found)
            if at is not None:
                low, high = (low, "(" + at) if newest else ("(" + at, high)
            candidates, last_batch = await self._merged(sources, low, high, want, newest)
            if not candidates:
                break
            pipe = self.redis.pipeline(transaction=False)
            for member in candidates:
                case_id = member.split(":", 1)[1]
                pipe.hgetall(keys.case(int(case_id.rsplit("-", 1)[1]), case_id))
            for i, (member, fields) in enumerate(zip(candidates, await pipe.execute())):
                at = member
                if fields and self._matches(fields, filters, statuses):
                    found.append(case_view(fields))
                    if len(found) == limit:
                        more = not (last_batch and i == len(candidates) - 1)
                        return Page(found, encode_cursor(filters, member) if more else None)
            read += len(candidates)
            if last_batch:
                break
            if read >= READ_BUDGET:  # a short page; the cursor goes on from the last case read
                return Page(found, encode_cursor(filters, candidates[-1]))
        return Page(found, None)

    @staticmethod
    def _matches(fields: dict[str, str], filters: CaseFilter, statuses: tuple[str, ...]) -> bool:
        # The status again: a case may have moved on between reading the index and reading the case.
        return (fields.get("status") in statuses and (filters.lane is None or fields.get("lane") == filters.lane)
                and (filters.claimed_by is None or fields.get("claimed_by") == filters.claimed_by))

    async def _merged(self, sources: list[str], low: str, high: str, want: int, newest: bool) -> tuple[list[str], bool]:
        """The first `want` members over all sources, in order, and whether they are the last there are.
        Each source gives its first `want`: any member a source held back comes after all it gave, so
        the first `want` of the union are the first `want` overall."""
        pipe = self.redis.pipeline(transaction=False)
        for key in sources:
            if newest:
                pipe.zrevrangebylex(key, high, low, start=0, num=want)
            else:
                pipe.zrangebylex(key, low, high, start=0, num=want)
        replies: list[list[str]] = await pipe.execute()
        merged = sorted((m for reply in replies for m in reply), reverse=newest)
        last = all(len(reply) < want for reply in replies) and len(merged) <= want
        return merged[:want], last
