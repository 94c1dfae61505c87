"""The one intake on a real Redis: what every channel's submission goes through, and what a retry with
the same dedupe id gets (the first answer, nothing stored again), one after the other and at once."""

from __future__ import annotations

import ast
import asyncio

import pytest

from support import REPO
from frontdoor.errors import InvalidInput
from frontdoor.queue import TriageQueue
from frontdoor.reports.intake import ReportIntake

GOOD = {"category": "csam", "urls": ["https://example.com/intake?utm_source=mail"],
        "description": "Seen on a forum; mail me at someone@example.com or call +44 20 7946 0958."}


@pytest.fixture
async def queue(redis):  # type: ignore[no-untyped-def]
    q = TriageQueue(redis)
    await q.setup()
    return q


@pytest.fixture
def intake(queue, keyring) -> ReportIntake:  # type: ignore[no-untyped-def]
    return ReportIntake(queue, keyring, default_region="GB")


async def stored_reports(queue: TriageQueue) -> list[dict]:  # type: ignore[type-arg]
    case_id = await queue.claim("analyst")
    return [] if case_id is None else list((await queue.get(case_id))["reports"])


async def test_a_submission_is_normalized_redacted_queued_and_has_a_receipt(intake, queue):
    accepted = await intake.submit(GOOD, "api")
    assert not accepted.duplicate and accepted.receipt
    assert await intake.status(accepted.receipt) == "received"
    (report,) = await stored_reports(queue)
    assert report["id"] == accepted.report_id and report["channel"] == "api"
    assert report["urls"][0]["normalized"] == "https://example.com/intake"
    assert "someone@example.com" not in report["description"] and "7946" not in report["description"]


async def test_bad_input_is_refused_and_stores_nothing(intake, queue, redis):
    before = await redis.dbsize()
    with pytest.raises(InvalidInput) as caught:
        await intake.submit({"category": "csam", "urls": ["http://localhost/x"]}, "api")
    assert caught.value.code.startswith("url_")
    assert await redis.dbsize() == before and await queue.claim("analyst") is None


async def test_a_retry_with_the_same_dedupe_id_gets_the_first_receipt_and_stores_nothing(intake, queue):
    first = await intake.submit(GOOD, "email", dedupe_id="mail-1")
    again = await intake.submit(GOOD, "email", dedupe_id="mail-1")
    assert again.duplicate and (again.report_id, again.receipt) == (first.report_id, first.receipt)
    other = await intake.submit(GOOD, "email", dedupe_id="mail-2")  # another message: another report
    assert not other.duplicate and other.receipt != first.receipt
    case = await queue.get(await queue.claim("analyst"))
    assert case["report_count"] == 2


async def test_retries_at_once_store_one_report(intake, queue):
    results = await asyncio.gather(*(intake.submit(GOOD, "email", dedupe_id="mail-3") for _ in range(5)))
    assert len({r.receipt for r in results}) == 1 and sum(not r.duplicate for r in results) == 1
    assert len(await stored_reports(queue)) == 1


async def test_a_retry_without_urls_meets_its_first_submission(intake, queue):
    """Without a URL the home shard is the dedupe id's, so the retry finds the marker."""
    fields = {"category": "grooming", "urls": [], "where_seen": {"type": "game", "platform": "Example Game"}}
    first = await intake.submit(fields, "email", dedupe_id="mail-4")
    again = await intake.submit(fields, "email", dedupe_id="mail-4")
    assert again.duplicate and again.receipt == first.receipt


async def test_enqueueing_a_prepared_report_again_is_answered_as_the_first_time(intake, queue):
    report = intake.prepare(GOOD, "web")
    first = await intake.enqueue(report, receipt="ABCD2-EFGH3")
    again = await intake.enqueue(report, receipt="ABCD2-EFGH3")
    assert (first.receipt, again.receipt, again.duplicate) == ("ABCD2-EFGH3", "ABCD2-EFGH3", True)
    assert len(await stored_reports(queue)) == 1


async def test_an_unknown_receipt_has_no_status(intake):
    assert await intake.status("ZZZZ2-ZZZZ3") is None


def test_nothing_but_the_intake_builds_and_queues_reports():
    """The architecture's first rule, kept: build_report and the queue's submit are called only here."""
    callers: dict[str, set[str]] = {"build_report": set(), "submit": set()}
    for path in (REPO / "frontdoor").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name == "build_report":
                callers["build_report"].add(str(path.relative_to(REPO)))
            if name == "submit" and isinstance(node.func, ast.Attribute) and "queue" in ast.unparse(node.func.value):
                callers["submit"].add(str(path.relative_to(REPO)))
    assert callers["build_report"] == {"frontdoor/reports/intake.py"}
    assert callers["submit"] == {"frontdoor/reports/intake.py"}, callers["submit"]
