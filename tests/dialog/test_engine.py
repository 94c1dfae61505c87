"""The reporting dialog through its engine, on a real Redis with the real queue and content."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest

from support.dialog import GOOD, dialog_parts, last_question, walk, well_formed
from support.redisdb import count_round_trips
from frontdoor import ids
from frontdoor.dialog import form, i18n
from frontdoor.dialog.engine import Dialog
from frontdoor.dialog.messages import ConversationKey, Inbound
from frontdoor.dialog.store import ConversationStore
from frontdoor.prevention_content import load_catalog
from frontdoor.queue import TriageQueue
from frontdoor.storage import keys
from frontdoor.storage.client import UNAVAILABLE, connect

MAIN_PATH = ["report", "csam", "https://example.com/page?utm_source=x", "website", "skip", "no", "other_adult", "skip",
             "skip", "send"]


@pytest.fixture
def dialog(services, redis):  # type: ignore[no-untyped-def]
    return services.dialog(ConversationStore(redis))


@pytest.fixture
def key() -> ConversationKey:
    return ConversationKey("terminal", "sender-under-test")


async def test_main_report_path_reaches_a_receipt_in_at_most_ten_turns(dialog, key, services):
    turns = await walk(dialog, key, MAIN_PATH)
    assert len(turns) - 1 == len(MAIN_PATH) <= 10
    final = turns[-1]
    assert final.status == "submitted" and final.receipt
    assert final.receipt in " ".join(m.text for m in final.messages)
    assert 0 < sum(len(m.resources) for m in final.messages) <= 3
    assert await services.queue.receipt_status(final.receipt) == "received"
    case = await services.queue.get(await services.queue.claim("analyst"))
    (report,) = case["reports"]
    assert case["url"] == "https://example.com/page"
    assert report["channel"] == "terminal" and report["category"] == "csam" and report["reporter_role"] == "other_adult"
    assert report["description"] is None and report["child_in_immediate_danger"] is False


async def test_every_prompt_avoids_asking_for_images(dialog, key):
    turns = await walk(dialog, key, MAIN_PATH)
    text = " ".join(m.text.lower() for t in turns for m in t.messages)
    assert "do not send pictures" in text
    for word in ("upload", "attach", "send us the picture", "send the image"):
        assert word not in text


async def test_no_link_for_grooming_asks_platform_and_account(dialog, key, services):
    turns = await walk(dialog, key, ["report", "grooming", ("payload", "no_link"), "Example Game Chat", "player_123",
                                     "game", "They asked a child for photos.", "no", "parent_carer", "Germany", "this_week", "send"])
    assert turns[-1].status == "submitted"
    case = await services.queue.get(await services.queue.claim("analyst"))
    report = case["reports"][0]
    assert case["url"] is None and report["urls"] == []
    assert report["where_seen"] == {"type": "game", "platform": "Example Game Chat", "account": "player_123"}
    assert report["reporter_country"] == "DE" and report["when_seen"] == "this_week"


async def test_junk_url_is_reprompted_and_after_three_tries_one_can_go_on(dialog, key):
    turns = await walk(dialog, key, ["report", "csam", "not a link"])
    assert "starts with http:// or https://" in turns[-1].messages[0].text
    assert turns[-1].messages[-1].expects == "url"
    assert "no_link" not in [q.payload for q in turns[-1].messages[-1].quick_replies]
    for junk in ("ftp://example.com/x", "http://192.168.1.1/"):
        turn = await dialog.turn(key, Inbound(text=junk))
    assert "private network" in turn.messages[0].text and "without a link" in turn.messages[0].text
    assert "no_link" in [q.payload for q in turn.messages[-1].quick_replies]
    turn = await dialog.turn(key, Inbound(payload="no_link"))
    assert last_question(turn) == i18n.text("en", "ask_platform")


async def test_no_link_is_refused_for_csam_before_three_tries(dialog, key):
    turns = await walk(dialog, key, ["report", "csam", ("payload", "no_link")])
    assert turns[-1].messages[-1].expects == "url"


async def test_over_long_text_is_cut_with_a_notice(dialog, key, services):
    long = "placeholder words " * 400  # 7200 characters
    turns = await walk(dialog, key, ["report", "other", "https://example.com/long", "website", long])
    assert any("first 4000 characters" in m.text for m in turns[-1].messages)
    await walk(dialog, key, ["report", "other", "https://example.com/long", "website", long, "no", "professional", "skip", "skip", "send"])
    case = await services.queue.get(await services.queue.claim("a"))
    assert len(case["reports"][0]["description"]) == 4000


async def test_unknown_answer_to_a_choice_shows_the_choices_again(dialog, key):
    turns = await walk(dialog, key, ["report", "banana"])
    assert turns[-1].messages[0].text == i18n.text("en", "choose_again")
    assert [q.payload for q in turns[-1].messages[-1].quick_replies] == list(form.SLOTS["category"].choices)
    turn = await dialog.turn(key, Inbound(text="3"))  # numbered choices work
    assert turn.messages[-1].expects == "url"


async def test_expired_conversation_starts_over_politely(services, redis, key):
    dialog = services.dialog(ConversationStore(redis, idle_ttl_s=1))
    await walk(dialog, key, ["report", "csam"])
    await asyncio.sleep(1.2)
    turn = await dialog.turn(key, Inbound(text="https://example.com/late"))
    assert turn.messages[0].text == i18n.text("en", "expired")
    assert last_question(turn) == i18n.text("en", "ask_path")
    fresh = await dialog.turn(ConversationKey("terminal", "never-seen"), Inbound(text="hello"))
    assert i18n.text("en", "expired") not in [m.text for m in fresh.messages]


async def test_commands_work_in_every_state(dialog, key, redis):
    await walk(dialog, key, ["report", "csam"])
    turn = await dialog.turn(key, Inbound(text="help"))
    assert turn.messages[0].text == i18n.text("en", "help_text") and turn.messages[-1].expects == "url"
    turn = await dialog.turn(key, Inbound(text="Restart"))
    assert last_question(turn) == i18n.text("en", "ask_path")
    turn = await dialog.turn(key, Inbound(text="language"))
    assert [q.payload for q in turn.messages[-1].quick_replies] == [f"lang:{loc}" for loc in i18n.LOCALES]
    turn = await dialog.turn(key, Inbound(payload="lang:de"))
    assert turn.locale == "de" and last_question(turn) == i18n.text("de", "ask_path")
    turn = await dialog.turn(key, Inbound(text="stopp"))
    assert turn.status == "closed"
    assert [k async for k in redis.scan_iter("fd:{c:*")] == []  # forgotten, not even a marker


async def test_language_comes_from_the_channel_hint(dialog, key):
    turn = await dialog.start(key, locale_hint="fr-CH,fr;q=0.9,en;q=0.5")
    assert turn.locale == "fr" and last_question(turn) == i18n.text("fr", "ask_path")
    turn = await dialog.turn(key, Inbound(payload="report"))
    assert last_question(turn) == i18n.text("fr", "ask_category")


async def test_country_from_the_channel_is_not_asked(dialog, key, services):
    await walk(dialog, key, ["report", "csam", "https://example.com/c", "website", "skip", "no", "teen", "skip", "send"],
               country_hint="NL")
    case = await services.queue.get(await services.queue.claim("a"))
    assert case["reports"][0]["reporter_country"] == "NL" and case["reports"][0]["reporter_role"] == "child"


async def test_danger_words_bring_the_emergency_number_first_and_carry_on(dialog, key):
    await walk(dialog, key, ["report", "csam", "https://example.com/d", "website"], country_hint="GB")
    turn = await dialog.turn(key, Inbound(text="He is abusing her right now in the next room"))
    lines = load_catalog().lines_for("GB")
    assert lines.emergency in turn.messages[0].text
    assert turn.messages[-1].text == i18n.text("en", "ask_danger")  # the description was taken, the dialog goes on
    turn = await dialog.turn(key, Inbound(text="I want to kill myself"))
    assert any(lines.emergency in m.text for m in turn.messages)
    assert turn.messages[-1].text == i18n.text("en", "ask_danger")  # not a yes/no: asked again, after the help


async def test_help_path_offers_resources_and_a_report(dialog, key):
    turns = await walk(dialog, key, ["get_help", "teen", "sextortion", "Canada"])
    final = turns[-1]
    cards = [r for m in final.messages for r in m.resources]
    assert 0 < len(cards) <= 3
    assert "report" in [q.payload for q in final.messages[-1].quick_replies]


async def test_worried_about_self_gets_prevention_help(dialog, key):
    turns = await walk(dialog, key, ["self", "skip"])
    texts = [m.text for m in turns[-1].messages]
    assert i18n.text("en", "self_intro") in texts
    assert any(m.resources for m in turns[-1].messages)


async def test_receipt_code_check(dialog, key):
    turns = await walk(dialog, key, MAIN_PATH)
    receipt = turns[-1].receipt
    turn = await dialog.turn(key, Inbound(payload="receipt"))
    assert last_question(turn) == i18n.text("en", "ask_receipt_code", example=ids.RECEIPT_EXAMPLE)
    turn = await dialog.turn(key, Inbound(text="ZZZZZ-ZZZZZ"))
    assert turn.messages[0].text == i18n.text("en", "receipt_unknown")
    turn = await dialog.turn(key, Inbound(text=receipt.lower().replace("-", " ")))
    assert turn.messages[0].text == i18n.text("en", "receipt_status.received")


async def test_changing_an_answer_from_the_summary(dialog, key, services):
    turns = await walk(dialog, key, MAIN_PATH[:-1] + ["change", ("payload", "category"), "trafficking"])
    assert "trafficking" in turns[-1].messages[-2].text.lower() or i18n.text("en", "category.trafficking") in turns[-1].messages[-2].text
    assert last_question(turns[-1]) == i18n.text("en", "ask_confirm")
    turn = await dialog.turn(key, Inbound(payload="send"))
    assert turn.status == "submitted"
    case = await services.queue.get(await services.queue.claim("a"))
    assert case["reports"][0]["category"] == "trafficking"


async def test_cancel_sends_nothing_and_forgets(dialog, key, services, redis):
    turns = await walk(dialog, key, MAIN_PATH[:-1] + ["cancel"])
    assert turns[-1].status == "closed"
    assert await services.queue.claim("a") is None
    assert [k async for k in redis.scan_iter("fd:{c:*")] == []


async def test_privacy_canaries_never_reach_redis_in_clear(dialog, services, redis):
    sender = "canary-sender-4417"
    key = ConversationKey("telegram", sender)
    phone, email = "+44 20 7946 0321", "canary.reporter@example.com"
    contact = "reach-me@example.org"
    await walk(dialog, key, ["report", "csam", "https://example.com/p", "website",
                             f"Please call me on {phone} or write to {email}", "no", "parent_carer", "United Kingdom", "today",
                             ("payload", "send_contact")])
    # Mid-conversation: the state holds the description redacted and the contact not yet given.
    turn = await dialog.turn(key, Inbound(text=contact))
    assert turn.status == "submitted"
    everything = []
    async for k in redis.scan_iter("*"):
        everything.append(k)
        kind = await redis.type(k)
        if kind == "string":
            everything.append(await redis.get(k))
        elif kind == "hash":
            everything += [f"{a}={b}" for a, b in (await redis.hgetall(k)).items()]
        elif kind == "list":
            everything += await redis.lrange(k, 0, -1)
        elif kind == "set":
            everything += list(await redis.smembers(k))
        elif kind == "zset":
            everything += [m for m, _ in await redis.zrange(k, 0, -1, withscores=True)]
        elif kind == "stream":
            everything += [json.dumps(e) for e in await redis.xrange(k)]
    blob = "\n".join(everything)
    for canary in (sender, "7946 0321", "79460321", email, contact, "canary.reporter"):
        assert canary not in blob, canary
    case = await services.queue.get(await services.queue.claim("a"))
    assert "[phone removed]" in case["reports"][0]["description"] and "[email removed]" in case["reports"][0]["description"]
    assert services.keyring.decrypt(case["reports"][0]["contact"]["ciphertext"]) == contact


async def test_a_corrupt_state_starts_over(dialog, key, redis, keyring):
    await walk(dialog, key, ["report"])
    pseudonym = keyring.pseudonym(key.channel, key.sender)
    await redis.set(keys.conversation(pseudonym), "{not json")
    turn = await dialog.turn(key, Inbound(text="csam"))
    well_formed(turn)
    assert last_question(turn) == i18n.text("en", "ask_path")


def test_good_answers_cover_every_slot() -> None:
    assert set(GOOD) == set(form.SLOTS)


# -- the conversation cache: several processes, one conversation ---------------------------------


def _seen_by_reporter(turn):  # type: ignore[no-untyped-def]
    """What a turn shows, with its receipt code (random) blanked."""
    def text(t: str) -> str:
        return t.replace(turn.receipt, "<receipt>") if turn.receipt else t

    return (turn.status, turn.locale, bool(turn.receipt),
            [(text(m.text), m.expects, [(q.title, q.payload) for q in m.quick_replies], [r.title for r in m.resources])
             for m in turn.messages])


async def test_a_cached_turn_costs_one_round_trip(dialog, key, monkeypatch):
    await walk(dialog, key, ["report", "csam"])
    sent = count_round_trips(monkeypatch)
    for answer in ("https://example.com/one-rt", "website", "skip", "no", "help", "language", "lang:en"):
        sent[0] = 0
        await dialog.turn(key, Inbound(text=answer))
        assert sent[0] == 1, (answer, sent[0])


async def test_two_processes_taking_turns_give_what_one_gives(services, redis, keyring, caplog):
    """Two Dialogs with caches of their own (two app processes) alternate on one conversation: each
    turn finds its cache stale, the commit says so, and the turn is computed again from Redis."""
    alone = services.dialog(ConversationStore(redis))
    solo = [_seen_by_reporter(t) for t in await walk(alone, ConversationKey("terminal", "solo"), MAIN_PATH)]
    a, b = services.dialog(ConversationStore(redis)), services.dialog(ConversationStore(redis))
    key = ConversationKey("terminal", "shared")
    turns = [await a.start(key)]
    caplog.set_level("INFO", logger="frontdoor.dialog.engine")
    for i, answer in enumerate(MAIN_PATH):
        turns.append(await (b if i % 2 == 0 else a).turn(key, Inbound(text=answer)))
    assert [_seen_by_reporter(t) for t in turns] == solo
    recomputed = sum("computed again" in r.getMessage() for r in caplog.records)
    assert recomputed >= len(MAIN_PATH) - 2  # every turn but b's first (its cache was empty) and the submit
    pseudonym = keyring.pseudonym(key.channel, key.sender)
    shared_state = (await ConversationStore(redis).read(pseudonym)).state
    solo_state = (await ConversationStore(redis).read(keyring.pseudonym("terminal", "solo"))).state
    assert shared_state is not None and solo_state is not None
    # Both hold the submitted report in an outbox until their next turn: the same report but for its id and times.
    outboxes = shared_state.pop("outbox"), solo_state.pop("outbox")
    assert [{k: v for k, v in o["report"].items() if k not in ("id", "received_at")} for o in outboxes] == \
           [{k: v for k, v in o["report"].items() if k not in ("id", "received_at")} for o in outboxes[::-1]]
    assert shared_state == solo_state


async def test_a_submit_from_a_stale_copy_is_computed_again_and_not_sent_twice(services, redis, keyring):
    a, b = services.dialog(ConversationStore(redis)), services.dialog(ConversationStore(redis))
    key = ConversationKey("terminal", "double-send")
    await walk(a, key, MAIN_PATH[:-1])  # a holds the conversation at "send?"
    sent = await b.turn(key, Inbound(text="send"))  # b reads it from Redis and submits
    assert sent.status == "submitted"
    again = await a.turn(key, Inbound(text="send"))  # a's copy is stale: its write is refused, nothing submitted
    # Computed again from Redis: b's outbox, which a cannot know was queued. Queued again, the queue
    # says it has it, and the double "send" is answered with the receipt b showed.
    assert again.status == "submitted" and again.receipt == sent.receipt
    after = await a.turn(key, Inbound(text="send"))
    assert after.status == "open" and after.receipt is None
    assert last_question(after) == i18n.text("en", "ask_path")  # "send" is no answer to "what next?"
    assert await services.queue.claim("analyst") is not None
    assert await services.queue.claim("analyst") is None  # one report, not two


async def test_a_report_whose_queueing_failed_is_queued_by_the_next_turn(services, redis, keyring):
    """The conversation is written with the report in its outbox, then the queue fails (its Redis is
    down): the reporter gets an error and no receipt. Their next turn, whatever it says, queues the
    report and shows the receipt; nothing is queued twice."""
    dead = TriageQueue(connect("redis://127.0.0.1:1", socket_connect_timeout=1), shards=1, lease_ms=60_000,
                       retention_ms=86_400_000)
    broken = dialog_parts(dead, services.keyring).dialog(ConversationStore(redis))
    key = ConversationKey("terminal", "queue-down")
    await walk(broken, key, MAIN_PATH[:-1])
    with pytest.raises(UNAVAILABLE):
        await broken.turn(key, Inbound(text="send"))
    assert await services.queue.claim("analyst") is None  # nothing queued yet
    state = (await ConversationStore(redis).read(keyring.pseudonym(key.channel, key.sender))).state
    assert state is not None and state["outbox"]["report"]["category"] == "csam"
    healed = services.dialog(ConversationStore(redis))  # another process, or this one once Redis is back
    turn = await healed.turn(key, Inbound(text="send"))
    assert turn.status == "submitted" and turn.receipt == state["outbox"]["receipt"]
    assert turn.receipt in " ".join(m.text for m in turn.messages)
    assert last_question(turn) == i18n.text("en", "after_submit")
    assert (await healed.turn(key, Inbound(text="help"))).status == "open"
    claimed = await services.queue.claim("analyst")
    assert claimed is not None and await services.queue.claim("analyst") is None  # one report
    assert await services.queue.receipt_status(turn.receipt) == "in_review"  # claimed just above


async def test_the_submitting_turn_costs_two_round_trips(dialog, key, monkeypatch):
    # Once running: the store's and the queue's AutoPipelines hold a connection each from the first use on.
    await walk(dialog, ConversationKey("terminal", "an-earlier-reporter"), MAIN_PATH)
    await walk(dialog, key, MAIN_PATH[:-1])
    sent = count_round_trips(monkeypatch)
    turn = await dialog.turn(key, Inbound(text="send"))
    assert turn.status == "submitted" and sent[0] == 2  # the conditional write, then the queue's script
    sent[0] = 0
    assert (await dialog.turn(key, Inbound(text="help"))).status == "open" and sent[0] == 1  # the outbox dropped unasked


async def test_a_conversation_forgotten_elsewhere_is_not_served_from_the_cache(services, redis):
    a, b = services.dialog(ConversationStore(redis)), services.dialog(ConversationStore(redis))
    key = ConversationKey("terminal", "stopped-elsewhere")
    await walk(a, key, ["report", "csam"])
    assert (await b.turn(key, Inbound(text="stop"))).status == "closed"
    turn = await a.turn(key, Inbound(text="https://example.com/after-stop"))  # a's copy says "which link?"
    greeting = i18n.text("en", "greeting", hotline="Example Hotline", emergency=services.catalog.emergency_number(None))
    assert turn.messages[0].text == greeting and last_question(turn) == i18n.text("en", "ask_path")


async def test_forget_drops_the_cached_state(services, redis, key, keyring, monkeypatch):
    store = ConversationStore(redis)
    dialog = services.dialog(store)
    await walk(dialog, key, ["report", "csam"])
    pseudonym = keyring.pseudonym(key.channel, key.sender)
    sent = count_round_trips(monkeypatch)
    assert (await store.load(pseudonym)).state is not None and sent[0] == 0  # from the cache
    assert (await dialog.turn(key, Inbound(text="stop"))).status == "closed"
    sent[0] = 0
    loaded = await store.load(pseudonym)
    assert loaded.state is None and sent[0] == 1  # asked Redis, which has nothing


async def test_the_cache_is_bounded_and_old_entries_are_not_trusted(services, redis, keyring, monkeypatch):
    store = ConversationStore(redis, idle_ttl_s=1, cache_entries=2)
    dialog = services.dialog(store)
    keys_ = [ConversationKey("terminal", f"lru-{i}") for i in range(3)]
    for k in keys_:
        await walk(dialog, k, ["report"])
    sent = count_round_trips(monkeypatch)
    await dialog.turn(keys_[0], Inbound(text="csam"))  # evicted: read from Redis, then written
    assert sent[0] == 2
    sent[0] = 0
    await dialog.turn(keys_[2], Inbound(text="csam"))  # still cached
    assert sent[0] == 1
    pseudonym = keyring.pseudonym(keys_[2].channel, keys_[2].sender)
    await redis.expire(keys.conversation(pseudonym), 100)  # Redis keeps it longer than the idle TTL ...
    await asyncio.sleep(1.1)
    sent[0] = 0
    loaded = await store.load(pseudonym)  # ... but this process no longer trusts its copy
    assert loaded.state is not None and sent[0] == 1  # read from Redis


async def test_a_turn_after_redis_forgot_its_scripts_loads_the_commit_script_again(dialog, key, redis, keyring):
    await walk(dialog, key, ["report"])
    await redis.script_flush()  # a restarted Redis: the store's EVALSHA answers NOSCRIPT
    turn = await dialog.turn(key, Inbound(text="csam"))
    well_formed(turn)
    state = (await ConversationStore(redis).read(keyring.pseudonym(key.channel, key.sender))).state
    assert state is not None and state["slots"]["category"] == "csam"
