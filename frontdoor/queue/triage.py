"""The triage queue: reports in, de-duplicated cases out to analysts under a lease.

Every state change is one Lua script in one shard's hash slot (see scripts.lua), so
a crash never leaves half a submit or half an assessment behind, and the same calls work
on one Redis and on a Redis Cluster. Python here only shapes arguments and results; the
invariants live in the scripts. Reads that span shards are plain (non-transactional)
pipelines, which redis-py's cluster client splits by node.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from .. import ids
from .listing import CaseIndex
from .views import CLOCK_SKEW_MS, analyst_action, audit_view, case_view, utc_day
from ..errors import Conflict, InvalidInput, NotFound
from ..storage.client import COMMAND_TIMEOUT_S, AutoPipeline, Client
from ..storage.groups import create_group, regrouping
from ..storage.scripts import Script, source
from ..reports import urls
from ..reports.build import check, ASSESSMENT_SCHEMA
from ..storage import keys

log = logging.getLogger(__name__)

CLASSIFICATIONS = ("baseline", "illegal_national", "not_illegal", "insufficient_information", "duplicate", "outside_remit")
ACTIONS = ("forwarded_law_enforcement", "forwarded_partner_hotline", "notice_and_takedown_sent", "content_removed")
# The reporter sees only these, never what an analyst decided or why.
RECEIPT_STATUS = {"queued": "received", "in_review": "in_review", "assessed": "in_review",
                  "action_taken": "action_taken", "closed": "closed"}
CASE_REPORTS_SHOWN = 50
FANOUT_GRACE_MS = 60_000


class AlreadySubmitted(Conflict):
    """A report was stored under this dedupe id before (see TriageQueue.submit); nothing was stored now."""

    code = "already_submitted"

    def __init__(self, report_id: str, receipt: str, fingerprint: str = "") -> None:
        super().__init__(f"already submitted as report {report_id}")
        self.report_id = report_id
        self.receipt = receipt  # the first submit's; "" if it was made before receipts were remembered
        self.fingerprint = fingerprint  # the first submit's; "" if it gave none


@dataclass(frozen=True)
class Submitted:
    report_id: str
    receipt: str
    cases: tuple[tuple[str, str], ...]  # (case_id, "opened" | "joined" | "reopened")


class TriageQueue:
    def __init__(
        self,
        redis: Client,
        *,
        shards: int = 1,
        lease_ms: int = 15 * 60_000,
        retention_ms: int = 90 * 86_400_000,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        if shards < 1:
            raise ValueError("shards must be at least 1")
        self.redis = redis
        self.shards = shards
        self.lease_ms = lease_ms
        self.retention_ms = retention_ms
        self.clock_ms = clock_ms
        self._submit = Script(redis, source(__package__, "scripts.lua", "submit.lua"))
        # Submits from concurrent requests (e-mails, chats) share a pipeline, as conversation writes do.
        self._submits = AutoPipeline(redis, timeout_s=COMMAND_TIMEOUT_S)
        self._claim = Script(redis, source(__package__, "scripts.lua", "claim.lua"))
        self._lease = Script(redis, source(__package__, "scripts.lua", "lease.lua"))
        self._assess = Script(redis, source(__package__, "scripts.lua", "assess.lua"))
        self._fanout_done = Script(redis, source(__package__, "scripts.lua", "fanout.lua"))
        self.listing = CaseIndex(redis, shards)  # cases by status, lane, holder and period (listing.py)

    async def aclose(self) -> None:
        """Wait for submits on their way (a server stopping)."""
        await self._submits.aclose()

    async def setup(self) -> None:
        """Create the consumer group on every lane; safe to run at every start (and after Redis lost them).
        Cases from before the listing index are indexed by housekeeping (`listing.build`), not here."""
        for shard in range(self.shards):
            for lane in keys.LANES:
                await create_group(self.redis, keys.lane(shard, lane), keys.GROUP)

    def shard_of_url(self, value: str) -> int:
        return keys.shard_for(value, self.shards)

    # -- reports in -------------------------------------------------------------

    async def submit(self, report: dict[str, Any], *, receipt: str | None = None, dedupe_id: str | None = None,
                     dedupe_ttl_s: int = 0, fingerprint: str = "") -> Submitted:
        """Store a built report (see report.build_report) and queue its cases; atomic per shard.

        The home shard (its first URL's) stores the report and all its same-shard URLs in one
        script. URLs on other shards follow in one idempotent script each; until they are
        confirmed the report sits in the home shard's fan-out set, which `recover_fanout`
        completes after a crash. With one shard (the default) a submit is one script call.

        `receipt`: the code to try first (a caller that has shown it already); another is drawn only
        if it is taken. A report already stored raises Conflict (duplicate_report), so submitting
        the same report again is safe.

        `dedupe_id` names what a channel received, for a channel whose senders retry (e-mail: a
        keyed hash of the Message-ID). It is remembered for `dedupe_ttl_s` in the home shard by
        the script that stores the report, so it is there exactly when the report is: a submit
        that failed leaves nothing to block the retry, and a second submit under it stores nothing
        and raises AlreadySubmitted, which carries the `fingerprint` (no spaces) the first submit
        gave, so the caller can tell a retry from another submission under the same id. A
        redelivery must reach the same home shard (the same first URL; the caller chooses the
        shard of a report without URLs) to be recognised.
        """
        if dedupe_id is not None and dedupe_ttl_s <= 0:
            raise ValueError("a dedupe id needs a positive dedupe_ttl_s")
        now = self.clock_ms()
        rid = report["id"]
        home = ids.shard_of(rid)
        by_shard: dict[int, list[dict[str, str]]] = {}
        for url in report["urls"]:
            by_shard.setdefault(self.shard_of_url(url["normalized"]), []).append(url)
        others = [s for s in by_shard if s != home]
        doc = orjson.dumps(report)  # compact UTF-8, as json.dumps(separators=(",", ":"), ensure_ascii=False)
        if others:
            await self.redis.zadd(keys.fanout(home), {rid: now})
        for attempt in range(5):
            receipt = receipt if attempt == 0 and receipt is not None else ids.new_receipt()
            result = await self._run_submit(home, report, now, True, doc, receipt, by_shard.get(home, []),
                                            dedupe=(dedupe_id, dedupe_ttl_s, fingerprint) if dedupe_id else None)
            if result[0] != "receipt_taken":
                break
        else:  # five collisions in a 2^50 space means something else is wrong
            raise RuntimeError("could not allocate a receipt code")
        if result[0] == "exists":
            raise Conflict(f"report {rid} was already submitted", code="duplicate_report")
        if result[0] == "duplicate":
            if others:  # this report was never stored: nothing to fan out
                await self.redis.zrem(keys.fanout(home), rid)
            raise AlreadySubmitted(*result[1:4])
        cases = _pairs(result)
        cases += await self._fan_out(report, now, {s: by_shard[s] for s in others})
        if log.isEnabledFor(logging.INFO):
            log.info("report %s stored from %s: %s", rid, report["channel"], " ".join(f"{c}={o}" for c, o in cases))
        return Submitted(rid, receipt, tuple(cases))

    async def _run_submit(self, shard: int, report: dict[str, Any], now: int, home: bool, doc: bytes,
                          receipt: str, urls: list[dict[str, str]], *, dedupe: tuple[str, int, str] | None = None) -> list[str]:
        dedupe_id, dedupe_ttl_s, fingerprint = dedupe or ("", 0, "")
        args: list[Any] = [keys.tag(shard), now, utc_day(now), report["id"], "1" if home else "0", doc, receipt,
                           "1" if report["child_in_immediate_danger"] else "0", report["category"], report["channel"],
                           len(urls), dedupe_id, dedupe_ttl_s, fingerprint]
        for url in urls:
            args += [keys.url_digest(url["normalized"]), url["normalized"], url["original"], ids.new_id(shard)]
        if home and not report["urls"]:
            args.append(ids.new_id(shard))
        result: list[str] = await self._submit([keys.url_index(shard)], args, via=self._submits)
        return result

    async def _fan_out(self, report: dict[str, Any], now: int, by_shard: dict[int, list[dict[str, str]]]) -> list[tuple[str, str]]:
        if not by_shard:
            return []
        rid, home = report["id"], ids.shard_of(report["id"])
        cases: list[tuple[str, str]] = []
        for shard, shard_urls in by_shard.items():
            cases += _pairs(await self._run_submit(shard, report, now, False, b"", "", shard_urls))
        # One script, not a MULTI: redis-py's cluster pipeline has no transactions.
        await self._fanout_done([keys.fanout(home)], [keys.tag(home), rid, *(c for c, _ in cases)])
        return cases

    async def recover_fanout(self) -> int:
        """Finish fan-outs interrupted by a crash (run at start-up and periodically)."""
        done = 0
        cutoff = self.clock_ms() - FANOUT_GRACE_MS
        for shard in range(self.shards):
            for rid in await self.redis.zrangebyscore(keys.fanout(shard), "-inf", cutoff, start=0, num=500):
                raw = await self.redis.get(keys.report(shard, rid))
                if raw is None:  # the home script never ran: nothing was acknowledged
                    await self.redis.zrem(keys.fanout(shard), rid)
                    continue
                report = json.loads(raw)
                others: dict[int, list[dict[str, str]]] = {}
                for url in report["urls"]:
                    s = self.shard_of_url(url["normalized"])
                    if s != shard:
                        others.setdefault(s, []).append(url)
                await self._fan_out(report, self.clock_ms(), others)
                done += 1
        return done

    # -- analysts ---------------------------------------------------------------

    async def claim(self, analyst: str) -> str | None:
        """The next case for this analyst: urgent lanes of every shard first, then the oldest normal case.
        Lost consumer groups are made again on the way (storage/groups.py)."""
        return await regrouping(lambda: self._claim_next(analyst), self.setup, "triage queue")

    async def _claim_next(self, analyst: str) -> str | None:
        now = self.clock_ms()
        if self.shards == 1:
            result = await self._claim([keys.lane(0, "urgent")], [keys.tag(0), analyst, self.lease_ms, now, "urgent,normal"])
            return result[0] if result else None
        for lane in keys.LANES:
            for shard in await self._shards_by_age(lane):
                result = await self._claim([keys.lane(shard, lane)], [keys.tag(shard), analyst, self.lease_ms, now, lane])
                if result:
                    return str(result[0])
        return None

    async def _shards_by_age(self, lane: str) -> list[int]:
        """Shards ordered by the age of the head of their lane, so claimers drain across shards oldest first."""
        pipe = self.redis.pipeline(transaction=False)
        for shard in range(self.shards):
            pipe.xrange(keys.lane(shard, lane), count=1)
        heads = await pipe.execute()
        order = sorted(range(self.shards), key=lambda s: _entry_key(heads[s][0][0]) if heads[s] else (2**64, 0))
        return order

    async def renew(self, case_id: str, analyst: str) -> None:
        await self._lease_op("renew", case_id, analyst)

    async def release(self, case_id: str, analyst: str) -> None:
        await self._lease_op("release", case_id, analyst)

    async def reassign(self, case_id: str, supervisor: str, to_analyst: str) -> None:
        await self._lease_op("reassign", case_id, supervisor, to_analyst)

    async def _lease_op(self, op: str, case_id: str, actor: str, target: str = "") -> None:
        shard = _shard(case_id)
        result = await regrouping(lambda: self._lease([keys.case(shard, case_id)], [
            keys.tag(shard), op, actor, case_id, self.clock_ms(), self.lease_ms, target]), self.setup, "triage queue")
        _raise_for(result[0], case_id)

    async def assess(
        self,
        case_id: str,
        analyst: str,
        classification: str,
        *,
        hosting_country: str | None = None,
        actions: Iterable[dict[str, Any]] = (),
        note: str | None = None,
    ) -> str:
        """Record the analyst's classification; returns the case's new status."""
        return await self.assess_document(case_id, analyst, {
            "classification": classification, "hosting_country": hosting_country, "actions": list(actions), "note": note})

    async def assess_document(self, case_id: str, analyst: str, body: Any) -> str:
        """`assess` for an assessment as the API receives it (validated here, once)."""
        check(ASSESSMENT_SCHEMA, body)
        return await self._run_assess("assess", case_id, analyst, body)

    async def record_actions(self, case_id: str, analyst: str, actions: Iterable[dict[str, Any]]) -> str:
        """Later actions on an assessed case (the partner forwarded it, the host removed it)."""
        body = {"classification": "baseline", "actions": actions if isinstance(actions, list) else list(actions)}
        check(ASSESSMENT_SCHEMA, body)
        if not body["actions"]:
            raise InvalidInput("actions: give at least one action", code="missing_field")
        return await self._run_assess("actions", case_id, analyst, body)

    async def _run_assess(self, op: str, case_id: str, analyst: str, body: dict[str, Any]) -> str:
        shard = _shard(case_id)
        now = self.clock_ms()
        actions = [analyst_action(a, now) for a in body.get("actions", [])]
        result = await self._assess([keys.case(shard, case_id)], [
            keys.tag(shard), op, analyst, case_id, now, utc_day(now), body["classification"],
            body.get("hosting_country") or "", (body.get("note") or "").strip(),
            json.dumps(actions), self.retention_ms, CLOCK_SKEW_MS])
        _raise_for(result[0], case_id)
        return str(result[1])

    # -- reading ----------------------------------------------------------------

    async def get(self, case_id: str, *, with_reports: bool = True) -> dict[str, Any]:
        shard = _shard(case_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(keys.case(shard, case_id))
        pipe.lrange(keys.case_reports(shard, case_id), 0, CASE_REPORTS_SHOWN - 1)
        pipe.lrange(keys.case_audit(shard, case_id), 0, -1)
        fields, report_ids, audit = await pipe.execute()
        if not fields:
            raise NotFound(f"no case {case_id}", code="case_not_found")
        case = case_view(fields)
        case["audit"] = [audit_view(json.loads(a)) for a in audit]
        if with_reports:
            case["reports"] = await self.reports(report_ids)
        return case

    async def reports(self, report_ids: list[str]) -> list[dict[str, Any]]:
        pipe = self.redis.pipeline(transaction=False)
        for rid in report_ids:
            pipe.get(keys.report(ids.shard_of(rid), rid))
        return [json.loads(doc) for doc in await pipe.execute() if doc]

    async def find_by_url(self, raw_url: str) -> list[dict[str, Any]]:
        """Every case this URL has had, newest first (content that came back links to its earlier case)."""
        try:
            normalized = urls.normalize(raw_url)
        except urls.UrlError as exc:
            raise InvalidInput(f"url: {exc.message}", code=f"url_{exc.reason}") from None
        shard = self.shard_of_url(normalized)
        found: list[dict[str, Any]] = []
        case_id = await self.redis.hget(keys.url_index(shard), keys.url_digest(normalized))
        while case_id and len(found) < 100:
            fields = await self.redis.hgetall(keys.case(shard, case_id))
            if not fields:
                break
            found.append(case_view(fields))
            case_id = fields.get("previous_case")
        return found

    async def receipt_status(self, code: str) -> str | None:
        canonical = ids.canonical_receipt(code)
        if canonical is None:
            return None
        pipe = self.redis.pipeline(transaction=False)
        for shard in range(self.shards):
            pipe.get(keys.receipt(shard, canonical))
        report_id = next((r for r in await pipe.execute() if r), None)
        if report_id is None:
            return None
        case_ids = (await self.redis.get(keys.report_cases(ids.shard_of(report_id), report_id)) or "").split()
        pipe = self.redis.pipeline(transaction=False)
        for cid in case_ids:
            pipe.hget(keys.case(ids.shard_of(cid), cid), "status")
        statuses = [RECEIPT_STATUS.get(s or "", "received") for s in await pipe.execute()]
        for coarse in ("action_taken", "in_review", "received"):
            if coarse in statuses:
                return coarse
        return "closed" if statuses else "received"

    async def depth(self) -> dict[str, dict[str, int]]:
        """Cases in each lane: every stream entry is a case still in the queue; pending ones are claimed or released."""
        return await regrouping(self._depth, self.setup, "triage queue")

    async def _depth(self) -> dict[str, dict[str, int]]:
        pipe = self.redis.pipeline(transaction=False)
        for shard in range(self.shards):
            for lane in keys.LANES:
                pipe.xlen(keys.lane(shard, lane))
                pipe.xpending(keys.lane(shard, lane), keys.GROUP)
        replies = await pipe.execute()
        out = {lane: {"in_queue": 0, "claimed": 0} for lane in keys.LANES}
        for i in range(0, len(replies), 2):
            lane = keys.LANES[(i // 2) % 2]
            out[lane]["in_queue"] += int(replies[i])
            out[lane]["claimed"] += int(replies[i + 1]["pending"])
        return out


def _pairs(result: list[str]) -> list[tuple[str, str]]:
    return [(result[i], result[i + 1]) for i in range(1, len(result), 2)]


def _entry_key(entry_id: str) -> tuple[int, int]:
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


def _shard(case_id: str) -> int:
    try:
        return ids.shard_of(case_id)
    except ValueError:
        raise NotFound(f"no case {case_id!r}", code="case_not_found") from None


_ERRORS: dict[str, tuple[type[Exception], str]] = {
    "not_found": (NotFound, "no case {case}"),
    "not_claimed": (Conflict, "case {case} is not claimed by you (its lease may have lapsed and passed to someone else)"),
    "already_assessed": (Conflict, "case {case} is already assessed; add later actions with the actions call"),
    "not_actionable": (Conflict, "case {case} was not classified as illegal, so it takes no actions"),
    "closed": (Conflict, "case {case} is closed"),
    "action_before_case": (InvalidInput, "actions: an action of case {case} cannot happen before the case was opened"),
}


def _raise_for(code: str, case_id: str) -> None:
    if code == "ok":
        return
    cls, message = _ERRORS[code]
    raise cls(message.format(case=case_id), code={"not_found": "case_not_found", "action_before_case": "invalid_field"}.get(code, code))  # type: ignore[call-arg]
