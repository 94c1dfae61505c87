"""A webhook channel end to end (tests/support/loopback.py, built as Telegram, WhatsApp and SMS will
be): real HTTP both ways, a real Redis. A redelivered inbound, one after the other and two at once,
moves the conversation on once and is answered once; a failure before the reply is stored is a 5xx
the provider retries; the rate limit is the conversation's, not the provider's address."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from frontdoor.api.appkeys import KEYRING
from frontdoor.app import CHANNELS, Parts, create_app
from frontdoor.channels.messaging import MessagingInbox
from frontdoor.dialog import i18n
from frontdoor.dialog.messages import ConversationKey, Inbound
from frontdoor.dialog.store import ConversationStore
from frontdoor.outbox import Outbox
from frontdoor.storage import keys
from frontdoor.storage.client import UNAVAILABLE, connect
from support.loopback import CHANNEL, SECRET_HEADER, LoopbackChannel, Provider

SECRET = "loopback-shared-secret"
SENDER = "loopback-user-99120731"  # the provider's id for a reporter: must never reach Redis in clear


@pytest.fixture
async def provider(aiohttp_server: Any) -> Any:
    p = Provider()
    server = await aiohttp_server(p.app())
    return p, f"http://127.0.0.1:{server.port}"


@pytest.fixture
async def hook(aiohttp_client, settings, redis, redis_url, provider):  # type: ignore[no-untyped-def]
    p, url = provider

    def loopback(parts: Parts) -> LoopbackChannel:
        return LoopbackChannel(parts.dialog, parts.outbox, parts.limiter, secret=SECRET, provider_url=url)

    s = replace(settings, outbox=replace(settings.outbox, poll_s=0.05, first_retry_s=0.2),
                web=replace(settings.web, messages_per_min=30))
    client = await aiohttp_client(create_app(s, redis_url, housekeeping=False, channels={**CHANNELS, CHANNEL: loopback}))
    return client, p


async def post(client: TestClient, update: dict[str, Any], secret: str = SECRET) -> int:
    r = await client.post(f"/channels/{CHANNEL}/webhook", json=update, headers={SECRET_HEADER: secret})
    return r.status


async def settle(provider: Provider, count: int, timeout_s: float = 10.0) -> None:
    """Until `count` replies arrived, then a little longer to be sure no more come."""
    deadline = time.monotonic() + timeout_s
    while len(provider.sent) < count:
        assert time.monotonic() < deadline, provider.sent
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.4)


async def test_a_report_through_the_webhook_gets_its_replies_in_order(hook, redis):
    client, provider = hook
    answers = ["report", "csam", "https://example.com/loopback", "website", "skip", "no", "other_adult", "skip",
               "skip", "send"]
    assert await post(client, {"update_id": 1, "from": SENDER, "text": "hello"}) == 200
    for n, answer in enumerate(answers, start=2):
        assert await post(client, {"update_id": n, "from": SENDER, "payload": answer}) == 200
    await asyncio.sleep(1.0)
    texts = provider.texts_to(SENDER)
    assert "Hotline" in texts[0] and texts[1] == i18n.text("en", "ask_path")
    assert any("receipt" in t for t in texts)
    async for key in redis.scan_iter("*"):
        assert SENDER not in key
        if await redis.type(key) == "string":
            assert SENDER not in (await redis.get(key) or "")


async def url_tries(client: TestClient, redis: Any) -> int:
    pseudonym = client.app[KEYRING].pseudonym(CHANNEL, SENDER)
    state = (await ConversationStore(redis).read(pseudonym)).state
    assert state is not None
    return int(state["slots"].get("url_tries") or 0)


async def to_the_link_question(client: TestClient, provider: Provider) -> int:
    for n, update in enumerate([{"text": "hi"}, {"payload": "report"}, {"payload": "csam"}], start=1):
        assert await post(client, {"update_id": n, "from": SENDER, **update}) == 200
    await settle(provider, 4)
    return len(provider.sent)


async def test_the_same_inbound_twice_moves_the_conversation_once_and_is_answered_once(hook, redis):
    client, provider = hook
    before = await to_the_link_question(client, provider)
    update = {"update_id": 11, "from": SENDER, "text": "not a link at all"}  # each time taken: one try more
    assert await post(client, update) == 200
    await settle(provider, before + 1)
    answer = provider.texts_to(SENDER)[before:]  # a hint, then the question again
    assert await post(client, update) == 200  # the provider did not hear our 200 and sends it again
    await asyncio.sleep(0.5)
    assert provider.texts_to(SENDER)[before:] == answer and await url_tries(client, redis) == 1
    assert await post(client, {"update_id": 12, "from": SENDER, "text": "still no link"}) == 200  # a new inbound
    await settle(provider, before + 2 * len(answer))
    assert await url_tries(client, redis) == 2


async def test_the_same_inbound_twice_at_once_is_answered_once(hook, redis):
    client, provider = hook
    before = await to_the_link_question(client, provider)
    question = provider.texts_to(SENDER)[-1]
    update = {"update_id": 21, "from": SENDER, "text": "not a link at all"}
    assert await asyncio.gather(post(client, update), post(client, update)) == [200, 200]
    await settle(provider, before + 1)
    answer = provider.texts_to(SENDER)[before:]
    assert answer[-1] == question and question not in answer[:-1]  # asked again once, not twice
    assert len(answer) == len(set(answer)) and await url_tries(client, redis) == 1


async def test_a_forged_webhook_is_refused_and_changes_nothing(hook, redis):
    client, provider = hook
    assert await post(client, {"update_id": 30, "from": SENDER, "text": "hi"}, secret="guess") == 403
    await asyncio.sleep(0.3)
    assert provider.sent == [] and await redis.keys("fd:{c:*") == []


async def test_a_provider_refusing_for_a_while_gets_the_replies_once_in_order(hook):
    client, provider = hook
    provider.refusing = 2
    assert await post(client, {"update_id": 40, "from": SENDER, "text": "hi"}) == 200
    await settle(provider, 2)
    texts = provider.texts_to(SENDER)
    assert len(texts) == 2 and texts[-1] == i18n.text("en", "ask_path")  # the greeting, then the question


async def test_a_reply_not_stored_is_a_retry_for_the_provider_and_then_one_answer(settings, redis, redis_url, keyring):
    """Redis takes the conversation's write, then fails before the reply is in the outbox: the provider
    hears an error and delivers again; the second delivery is answered, once, as the first would have been."""
    from frontdoor.app import build_parts

    parts = build_parts(settings, redis_url)
    dead = Outbox(connect("redis://127.0.0.1:1", socket_connect_timeout=1), keyring, settings.outbox, [CHANNEL])
    await parts.outbox.setup([CHANNEL])
    key_update = Inbound(payload="report", message_id="update-50")
    broken = MessagingInbox(CHANNEL, parts.dialog, dead, parts.limiter)
    healthy = MessagingInbox(CHANNEL, parts.dialog, parts.outbox, parts.limiter)
    await healthy.receive(SENDER, Inbound(text="hi", message_id="update-49"))
    with pytest.raises(UNAVAILABLE):
        await broken.receive(SENDER, key_update)  # the dialog committed; the outbox could not be reached
    turn = await healthy.receive(SENDER, key_update)  # the redelivery
    again = await healthy.receive(SENDER, key_update)  # and one more
    assert turn is not None and again is not None and turn.messages == again.messages
    assert [m.text for m in turn.messages] == [i18n.text("en", "ask_category")]
    stream = await redis.xrange(keys.outbox_stream(CHANNEL))
    assert len(stream) == 2 + 1  # the greeting's two messages, and one answer to the redelivered inbound
    state = (await ConversationStore(redis).read(parts.dialog.pseudonym(ConversationKey(CHANNEL, SENDER)))).state
    assert state is not None and state["slots"]["path"] == "report"  # moved on once: category is next
    await parts.redis.aclose()


async def test_the_rate_limit_is_the_conversations_not_the_providers_address(hook):
    """Every request comes from the provider's address; one reporter writing too fast is told to slow
    down (once), and another reporter through the same provider is not held up."""
    client, provider = hook
    for n in range(35):  # over the 30 a minute of the fixture
        assert await post(client, {"update_id": 100 + n, "from": SENDER, "text": "help"}) == 200
    assert await post(client, {"update_id": 200, "from": "another-reporter", "text": "hi"}) == 200
    await asyncio.sleep(1.5)
    slow = i18n.text("en", "slow_down")
    assert provider.texts_to(SENDER).count(slow) == 1
    assert slow not in provider.texts_to("another-reporter") and provider.texts_to("another-reporter")
