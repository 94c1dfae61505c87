"""A provider's redelivery at the engine: an inbound with a message id is answered once and moves the
conversation on once, whether it comes again later, twice at once, or to two processes at once."""

from __future__ import annotations

import asyncio

import pytest

from support.dialog import walk
from frontdoor.dialog.engine import Dialog
from frontdoor.dialog.messages import ConversationKey, Inbound, Turn
from frontdoor.dialog.store import ConversationStore
from frontdoor.storage import keys

TO_THE_LINK = ["report", "csam"]
NOT_A_LINK = "not a link at all"  # each time it is taken, the dialog counts one try more


@pytest.fixture
def parts(services):  # type: ignore[no-untyped-def]
    return services


@pytest.fixture
def key() -> ConversationKey:
    return ConversationKey("loopback", "provider-user-4711")


async def url_tries(dialog: Dialog, redis, key: ConversationKey) -> int:  # type: ignore[no-untyped-def]
    state = (await ConversationStore(redis).read(dialog.pseudonym(key))).state
    assert state is not None
    return int(state["slots"].get("url_tries") or 0)


def texts(turn: Turn) -> list[str]:
    return [m.text for m in turn.messages]


async def test_without_an_id_the_same_text_twice_is_two_tries(parts, redis, key):
    """The control: what the tests below would see if the message id were ignored."""
    dialog = parts.dialog(ConversationStore(redis))
    await walk(dialog, key, TO_THE_LINK)
    await dialog.turn(key, Inbound(text=NOT_A_LINK))
    await dialog.turn(key, Inbound(text=NOT_A_LINK))
    assert await url_tries(dialog, redis, key) == 2


async def test_the_same_inbound_again_gets_the_same_answer_and_moves_nothing(parts, redis, key):
    dialog = parts.dialog(ConversationStore(redis))
    await walk(dialog, key, TO_THE_LINK)
    first = await dialog.turn(key, Inbound(text=NOT_A_LINK, message_id="m-1"))
    again = await dialog.turn(key, Inbound(text=NOT_A_LINK, message_id="m-1"))
    assert texts(again) == texts(first) and again.status == first.status
    assert await url_tries(dialog, redis, key) == 1
    await dialog.turn(key, Inbound(text=NOT_A_LINK, message_id="m-2"))  # a new message is a new try
    assert await url_tries(dialog, redis, key) == 2


async def test_the_same_inbound_twice_at_once_moves_the_conversation_once(parts, redis, key):
    dialog = parts.dialog(ConversationStore(redis))
    await walk(dialog, key, TO_THE_LINK)
    one, two = await asyncio.gather(dialog.turn(key, Inbound(text=NOT_A_LINK, message_id="m-1")),
                                    dialog.turn(key, Inbound(text=NOT_A_LINK, message_id="m-1")))
    assert texts(one) == texts(two)
    assert await url_tries(dialog, redis, key) == 1


async def test_two_processes_given_the_same_inbound_at_once_move_it_once(parts, redis, redis_url, key):
    """Each Dialog has its own cache of states, as two worker processes would."""
    from frontdoor.storage.client import connect

    other_redis = connect(redis_url)
    first, second = parts.dialog(ConversationStore(redis)), parts.dialog(ConversationStore(other_redis))
    try:
        await walk(first, key, TO_THE_LINK)
        one, two = await asyncio.gather(first.turn(key, Inbound(text=NOT_A_LINK, message_id="m-9")),
                                        second.turn(key, Inbound(text=NOT_A_LINK, message_id="m-9")))
        assert texts(one) == texts(two)
        assert await url_tries(first, redis, key) == 1
    finally:
        await other_redis.aclose()


async def test_a_redelivered_send_stores_one_report_and_shows_the_same_receipt(parts, redis, key):
    dialog = parts.dialog(ConversationStore(redis))
    answers = ["report", "csam", "https://example.com/redelivered", "website", "skip", "no", "other_adult",
               "skip", "skip"]
    await walk(dialog, key, answers)
    sent = await asyncio.gather(*(dialog.turn(key, Inbound(payload="send", message_id="send-1")) for _ in range(3)))
    receipts = {t.receipt for t in sent}
    assert len(receipts) == 1 and None not in receipts
    assert all(t.status == "submitted" for t in sent)
    assert await parts.queue.receipt_status(receipts.pop()) == "received"
    case = await parts.queue.get(await parts.queue.claim("analyst"))
    assert case["report_count"] == 1 and len(case["reports"]) == 1


async def test_an_answer_is_remembered_for_a_day_under_the_pseudonym_only(parts, redis, key):
    dialog = parts.dialog(ConversationStore(redis))
    await walk(dialog, key, TO_THE_LINK)
    await dialog.turn(key, Inbound(text=NOT_A_LINK, message_id="m-ttl"))
    prefix = keys.conversation_answered(dialog.pseudonym(key), "")
    (answered,) = [k async for k in redis.scan_iter(prefix + "*")]
    assert 0 < await redis.ttl(answered) <= 86400
    assert "m-ttl" not in answered and key.sender not in answered
