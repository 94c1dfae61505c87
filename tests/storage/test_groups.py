"""Consumer groups lost with Redis's data (a restart without persistence, a FLUSHALL) are made again
by the first call that misses them: the analyst's claim is answered as usual, not with a 500."""

from __future__ import annotations

import logging
from typing import Any

from support.api import ANALYST_PREFIX, ok_json, submit

from frontdoor.api.appkeys import ACCOUNTS, OUTBOX
from frontdoor.outbox import OutboxSender
from frontdoor.storage import keys


async def test_a_claim_after_flushall_answers_as_usual_and_later_reports_are_claimable(api, redis, caplog) -> None:  # type: ignore[no-untyped-def]
    await submit(api, category="csam", urls=["https://example.com/before"])
    await redis.flushall()  # the queue's streams and groups are gone, and the analysts with them
    headers = {"Authorization": f"Bearer {await api.app[ACCOUNTS].add('alice', 'analyst')}"}
    caplog.set_level(logging.WARNING)

    assert (await api.post(f"{ANALYST_PREFIX}/claim", headers=headers)).status == 204  # nothing left to claim
    assert sum("consumer groups were gone" in r.getMessage() for r in caplog.records) == 1
    assert await redis.xinfo_groups(keys.lane(0, "normal"))  # made again, on the spot

    await redis.flushall()  # once more, and a report comes in before anyone claims
    headers = {"Authorization": f"Bearer {await api.app[ACCOUNTS].add('alice', 'analyst')}"}
    sent = await submit(api, category="csam", urls=["https://example.com/after"])
    case = await ok_json(await api.post(f"{ANALYST_PREFIX}/claim", headers=headers))
    assert [r["id"] for r in case["reports"]] == [sent["report"]]
    stats = await ok_json(await api.get(f"{ANALYST_PREFIX}/stats", headers=headers))
    assert stats["queue"]["normal"] == {"in_queue": 1, "claimed": 1}


async def test_the_outbox_sender_makes_its_groups_again_and_sends(api, redis) -> None:  # type: ignore[no-untyped-def]
    outbox = api.app[OUTBOX]
    sent: list[Any] = []

    class Loopback:
        async def deliver(self, message: Any) -> None:
            sent.append(message.body)

    sender = OutboxSender(outbox, {"email": Loopback()})
    await redis.flushall()
    await outbox.put("email", "reporter@example.com", [{"n": 1}])  # the stream is back, its group is not
    assert await sender.send_once() == 1
    assert sent == [{"n": 1}]
