"""The one intake: every submission, from every channel, becomes a queued report here.

`build` validates the submission against its schema, normalizes its URLs, redacts its free text
and encrypts a consented contact; the triage queue's submit script stores the report, opens or joins
its cases and keeps its receipt. The API, the no-JavaScript form, the e-mail channel and the dialog
all come through `ReportIntake`, so no channel can skip a step or do one its own way.

A channel whose senders retry (a mail server after a 451, an API client after a 503, a browser
posting a form again) passes a `dedupe_id`, a keyed name for what it received (`dedupe_key` makes
one of what the client sent: nothing a client sent becomes a Redis key). The submit script checks
and remembers it together with the report and a fingerprint of the submission, so a retry is
answered with the first receipt and stores nothing, a submit that failed leaves nothing behind to
block the retry, and the same id with different content is told apart (`Accepted.same_submission`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import Conflict
from ..keyring import Keyring
from ..queue import AlreadySubmitted, TriageQueue
from .build import build_report

DEDUPE_TTL_S = 30 * 86400  # a redelivery within a month is the same report


@dataclass(frozen=True)
class Accepted:
    report_id: str
    receipt: str
    # The dedupe id (or the report itself) was stored before: this is the first answer again, and
    # nothing new was stored. The receipt is "" only for a dedupe id remembered by an older version.
    duplicate: bool = False
    # False when the dedupe id was first used for a different submission (an API client reusing an
    # Idempotency-Key): the id and receipt are then another submission's, not to be shown.
    same_submission: bool = True


class ReportIntake:
    def __init__(self, queue: TriageQueue, keyring: Keyring, *, default_region: str | None = None,
                 dedupe_ttl_s: int = DEDUPE_TTL_S, on_queued: Callable[[str], None] | None = None) -> None:
        """`on_queued(channel)`: told of each report newly queued (the metrics count it), never of a
        retry answered with the first receipt."""
        self._queue = queue
        self._keyring = keyring
        self._default_region = default_region
        self._dedupe_ttl_s = dedupe_ttl_s
        self._on_queued = on_queued

    def dedupe_key(self, channel: str, *parts: str) -> str:
        """A dedupe id for what a client sent to name its retries (an Idempotency-Key, a form's token, a
        Message-ID and its sender): keyed, so none of it can be read back or guessed from Redis."""
        return self._keyring.pseudonym("dedupe", channel, *parts)

    async def submit(self, fields: Any, channel: str, *, dedupe_id: str | None = None) -> Accepted:
        """Validate, redact and queue a submission; InvalidInput says what is wrong with it."""
        fingerprint = self._keyring.pseudonym("submission", orjson.dumps(fields, option=orjson.OPT_SORT_KEYS).decode()) \
            if dedupe_id is not None else ""
        return await self.enqueue(self.prepare(fields, channel, dedupe_id=dedupe_id), dedupe_id=dedupe_id,
                                  fingerprint=fingerprint)

    def prepare(self, fields: Any, channel: str, *, dedupe_id: str | None = None) -> dict[str, Any]:
        """The report `fields` make, not yet stored: for a caller that keeps it somewhere durable first
        (the dialog writes it with the conversation, then calls `enqueue`)."""
        has_urls = isinstance(fields, dict) and bool(fields.get("urls"))

        def home_shard(value: str) -> int:
            # build_report asks with the first URL, or with a random value when there is none; a retry
            # must meet its dedupe id in the same shard, so without URLs that id decides it.
            return self._queue.shard_of_url(value if has_urls or dedupe_id is None else dedupe_id)

        return build_report(fields, channel=channel, keyring=self._keyring, shard_of_url=home_shard,
                            default_region=self._default_region)

    async def enqueue(self, report: dict[str, Any], *, receipt: str | None = None,
                      dedupe_id: str | None = None, fingerprint: str = "") -> Accepted:
        """Store and queue a prepared report. `receipt` is the code to keep when the caller has shown it
        already. Enqueueing the same report again is harmless: it is answered as the first time."""
        try:
            submitted = await self._queue.submit(report, receipt=receipt, dedupe_id=dedupe_id,
                                                 dedupe_ttl_s=self._dedupe_ttl_s if dedupe_id else 0,
                                                 fingerprint=fingerprint)
        except AlreadySubmitted as exc:
            same = not (fingerprint and exc.fingerprint) or fingerprint == exc.fingerprint
            return Accepted(exc.report_id, exc.receipt, duplicate=True, same_submission=same)
        except Conflict as exc:
            if exc.code != "duplicate_report" or receipt is None:
                raise
            return Accepted(report["id"], receipt, duplicate=True)
        if self._on_queued is not None:
            self._on_queued(str(report.get("channel", "")))
        return Accepted(submitted.report_id, submitted.receipt)

    async def status(self, receipt: str) -> str | None:
        """What a reporter may know about their report (received, in_review, ...), None for an unknown code."""
        return await self._queue.receipt_status(receipt)
