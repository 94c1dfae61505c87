"""Property tests of the reporting dialog: random text and payloads fed into every state.

For every state the dialog can be in (every slot of `form.SLOTS` on every path that asks it,
the language question, and the "what next" question after a finished report or help request),
a conversation is first walked there with scripted good answers. Each hypothesis example then
starts from a copy of that conversation under a fresh sender and feeds it 1-5 random inbounds.
Whatever they are:

- no exception escapes `Dialog.turn`, and every reply is well-formed;
- a closed conversation greets again on the next turn;
- no state is a dead end: answering each question the engine asks with the good answer for it
  reaches a submitted report within 15 turns; or, on the other branch of the example,
  "stop" closes the conversation and leaves none of its keys in Redis.

Hypothesis examples are synchronous; each test runs its coroutines on one event loop of its
own (`asyncio.Runner`) with its own Redis client, closed at the end.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.dialog import GOOD, walk, well_formed
from frontdoor.dialog import form, i18n
from frontdoor.dialog.engine import COMMANDS, Dialog
from frontdoor.dialog.messages import ConversationKey, Inbound, Turn
from support.dialog import DialogParts, dialog_parts
from frontdoor.dialog.store import ConversationStore
from frontdoor.prevention_content import load_catalog
from frontdoor.prevention_content.files import DATA_DIR
from frontdoor.queue import TriageQueue
from frontdoor.storage import keys

HOTLINE = "Example Hotline"
URL = "https://example.com/property-test"
MAIN = ["report", "csam", URL, "website", "skip", "no", "other_adult", "skip", "skip"]  # up to the summary
NO_LINK = ["report", "grooming", ("payload", "no_link"), "Example Chat", "skip", "game", "skip", "no", "parent_carer",
           "skip", "skip"]
MAX_TURNS_TO_SUBMIT = 15

# name -> (answers that walk a new conversation there, the slot the engine then asks).
# "after_*" is the "what would you like to do" question of a finished conversation (asks `path`).
STATES: dict[str, tuple[list[Any], str]] = {
    "path": ([], "path"),
    "category": (["report"], "category"),
    "urls": (["report", "csam"], "urls"),
    "urls_no_link_allowed": (["report", "grooming"], "urls"),
    "urls_after_three_bad_links": (["report", "csam", "not a link", "ftp://example.com/x", "http://192.168.1.1/"], "urls"),
    "platform": (NO_LINK[:3], "platform"),
    "account": (NO_LINK[:4], "account"),
    "where_seen": (MAIN[:3], "where_seen"),
    "where_seen_no_link": (NO_LINK[:5], "where_seen"),
    "description": (MAIN[:4], "description"),
    "danger": (MAIN[:5], "danger"),
    "role": (MAIN[:6], "role"),
    "country": (MAIN[:7], "country"),
    "when_seen": (MAIN[:8], "when_seen"),
    "confirm": (MAIN, "confirm"),
    "confirm_no_link": (NO_LINK, "confirm"),
    "change_field": (MAIN + ["change"], "change_field"),
    "change_field_no_link": (NO_LINK + ["change"], "change_field"),
    "changed_answer_asked_again": (MAIN + ["change", ("payload", "urls")], "urls"),
    "contact": (MAIN + [("payload", "send_contact")], "contact"),
    "get_help_role": (["get_help"], "role"),
    "get_help_topic": (["get_help", "teen"], "topic"),
    "get_help_country": (["get_help", "teen", "online_safety"], "country"),
    "self_country": (["self"], "country"),
    "receipt_code": (["receipt"], "receipt_code"),
    "after_submit": (MAIN + ["send"], "path"),
    "after_help": (["self", "skip"], "path"),
    "second_report_category": (MAIN + ["send", "report"], "category"),
    "awaiting_language": (["report", "language"], "language"),
}

# Every payload the dialog ever offers as a quick reply.
PAYLOADS = sorted(
    {c for spec in form.SLOTS.values() for c in spec.choices}
    | set(form.CHANGEABLE)
    | {"yes", "no", "skip", "no_link", "/stop"}
    | {f"lang:{loc}" for loc in i18n.LOCALES}
)
COMMAND_WORDS = sorted({w for words in COMMANDS.values() for w in words})


def _safeguarding_phrases() -> list[str]:
    doc = yaml.safe_load((Path(DATA_DIR) / "safeguarding.yaml").read_text(encoding="utf-8"))["locales"]
    return sorted({p.rstrip("*") for lists in doc.values() for kind in lists.values() for p in kind[:3]})


def _with(words: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A word as typed: any case, with stray spaces or punctuation around it."""
    return st.builds(lambda w, upper, pre, post: pre + (w.upper() if upper else w) + post,
                     words, st.booleans(), st.sampled_from(["", " ", "\t", "  "]), st.sampled_from(["", ".", "!", " ", "?", "\n"]))


_long_text = st.builds(lambda chunk, n: (chunk * n)[:12_000], st.text(min_size=1, max_size=12), st.integers(500, 12_000))
_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
_reserved_urls = st.one_of(
    st.sampled_from([URL, "http://example.com", "https://www.example.com/page?utm_source=x#top", "example.com/no-scheme",
                     "https://sub.site.test/a/b", "https://host.invalid/", "ftp://example.com/x", "http://192.168.1.1/",
                     "http://127.0.0.1:99999/", "https://exa mple.com/", "https://xn--.example.com/", "https://./",
                     "https://example.com/" + "a" * 3000, "https://example.com/1 https://example.com/2 not-a-link"]),
    st.builds(lambda label, tld, path: f"https://{label}.{tld}/{path}", _label,
              st.sampled_from(["example.com", "example.org", "test", "invalid", "example"]), st.text(max_size=40)),
    st.builds(lambda junk, tld: f"https://{junk}.{tld}", st.text(max_size=20), st.sampled_from(["test", "invalid"])),
)
TEXTS = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),  # all of unicode but surrogates
    st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp"]), max_size=40),  # control and spacing
    st.text(alphabet=" \t\r\n\x0b\x0c\u00a0\u2028\u3000", max_size=20),  # empty or whitespace only
    _long_text,
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    _with(st.sampled_from(COMMAND_WORDS)),
    _with(st.sampled_from(PAYLOADS)),
    st.builds(lambda x: "lang:" + x, st.text(max_size=6)),
    st.sampled_from(["lang:xx", "lang:", "lang:DE", "lang: fr", "/stop", "/restart", "/help", "/language", "STOP!"]),
    _reserved_urls,
    st.sampled_from(["Germany", "United Kingdom", "FR", "Atlantis", "ABCDE-12345", "ZZZZZ ZZZZZ", "someone@example.com",
                     "+44 20 7946 0000", "placeholder words", '{"payload": "report"}', "/report", "report report"]),
    st.sampled_from(_safeguarding_phrases()),
)
INBOUNDS = st.one_of(
    TEXTS.map(lambda t: Inbound(text=t)),
    st.one_of(st.sampled_from(PAYLOADS), st.text()).map(lambda p: Inbound(payload=p)),
)

PROPERTY_SETTINGS = settings(max_examples=40, deadline=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# -- a dialog on its own event loop --------------------------------------------------------------


@dataclass
class Harness:
    runner: asyncio.Runner
    redis: aioredis.Redis
    dialog: Dialog
    store: ConversationStore
    services: DialogParts

    def run(self, coro: Any) -> Any:
        return self.runner.run(coro)

    def pseudonym(self, key: ConversationKey) -> str:
        return self.services.keyring.pseudonym(key.channel, key.sender)

    async def asked(self, key: ConversationKey) -> str | None:
        """What the engine waits for: a slot name, "language", or None (no conversation)."""
        loaded = await self.store.load(self.pseudonym(key))
        if loaded.state is None:
            return None
        if loaded.state.get("awaiting") == "language":
            return "language"
        return form.next_slot(loaded.state["slots"]) or "path"

    async def conversation_keys(self, key: ConversationKey) -> int:
        pseudonym = self.pseudonym(key)
        return int(await self.redis.exists(keys.conversation(pseudonym), keys.conversation_seen(pseudonym)))

    def greeting(self, locale: str = "en") -> str:
        catalog = self.services.catalog
        return i18n.text(locale, "greeting", hotline=HOTLINE, emergency=catalog.emergency_number(None))


@pytest.fixture
def harness(redis_url: str, keyring: Any) -> Iterator[Harness]:
    with asyncio.Runner() as runner:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)

        async def setup() -> Harness:
            await client.flushdb()
            queue = TriageQueue(client)
            await queue.setup()
            services = dialog_parts(queue, keyring, hotline=HOTLINE)
            store = ConversationStore(client)
            return Harness(runner, client, services.dialog(store), store, services)

        try:
            yield runner.run(setup())
        finally:
            runner.run(client.flushdb())
            runner.run(client.aclose())


def new_key() -> ConversationKey:
    return ConversationKey("terminal", f"prop-{uuid.uuid4()}")


def answer_for(asked: str) -> Inbound:
    if asked == "language":
        return Inbound(payload="lang:en")
    if asked == "path":  # the first question, or "what would you like to do" after finishing
        return Inbound(payload="report")
    return Inbound(text=GOOD[asked])


async def reach(h: Harness, state: str) -> tuple[ConversationKey, dict[str, Any]]:
    """Walk a new conversation to `state` with scripted answers; its stored state, checked."""
    script, expected = STATES[state]
    key = new_key()
    for turn in await walk(h.dialog, key, script):
        well_formed(turn)
        assert turn.status != "closed", state
    assert await h.asked(key) == expected, state
    loaded = await h.store.load(h.pseudonym(key))
    assert loaded.state is not None
    return key, loaded.state


async def clone(h: Harness, snapshot: dict[str, Any]) -> ConversationKey:
    """The same conversation under a fresh sender: what walking it again would leave in Redis."""
    key = new_key()
    await h.store.save(h.pseudonym(key), copy.deepcopy(snapshot))
    return key


async def check_turn(h: Harness, key: ConversationKey, inbound: Inbound, *, was_closed: bool) -> Turn:
    turn = await h.dialog.turn(key, inbound)
    well_formed(turn)
    assert turn.locale in i18n.LOCALES
    if turn.status == "submitted":
        assert turn.receipt and any(turn.receipt in m.text for m in turn.messages)
    if was_closed:  # the conversation was forgotten: whatever comes next is greeted as new
        assert turn.status == "open"
        assert turn.messages[0].text == h.greeting(), turn.messages[0]
        assert turn.messages[-1].text == i18n.text("en", "ask_path")
    if turn.status == "closed":
        assert await h.conversation_keys(key) == 0
    return turn


async def drive_to_submit(h: Harness, key: ConversationKey) -> list[str]:
    """Answer whatever the engine asks with its good answer until a report is submitted."""
    trail: list[str] = []
    for _ in range(MAX_TURNS_TO_SUBMIT):
        asked = await h.asked(key)
        assert asked is not None, f"conversation vanished after {trail}"
        trail.append(asked)
        turn = await check_turn(h, key, answer_for(asked), was_closed=False)
        assert turn.status != "closed", trail
        if turn.status == "submitted":
            assert await h.services.queue.receipt_status(turn.receipt) == "received"  # type: ignore[arg-type]
            return trail
    raise AssertionError(f"no report submitted within {MAX_TURNS_TO_SUBMIT} turns; asked {trail}")


# -- the properties ---------------------------------------------------------------------------------


def test_the_states_cover_every_slot() -> None:
    assert {slot for _, slot in STATES.values()} >= set(form.SLOTS)


@pytest.mark.parametrize("state", sorted(STATES))
def test_random_input_in_every_state(harness: Harness, state: str) -> None:
    _key, snapshot = harness.run(reach(harness, state))

    @PROPERTY_SETTINGS
    @given(inbounds=st.lists(INBOUNDS, min_size=1, max_size=5), then_stop=st.booleans())
    def prop(inbounds: list[Inbound], then_stop: bool) -> None:
        async def example() -> None:
            key = await clone(harness, snapshot)
            closed = False
            for inbound in inbounds:
                turn = await check_turn(harness, key, inbound, was_closed=closed)
                closed = turn.status == "closed"
            if closed:
                await check_turn(harness, key, Inbound(text="placeholder words"), was_closed=True)
            if then_stop:
                turn = await check_turn(harness, key, Inbound(text="stop"), was_closed=False)
                assert turn.status == "closed"
                assert await harness.conversation_keys(key) == 0
            else:
                await drive_to_submit(harness, key)

        harness.run(example())

    prop()


@pytest.mark.parametrize("state", sorted(STATES))
def test_stop_closes_every_state_and_forgets_it(harness: Harness, state: str) -> None:
    async def check() -> None:
        key, _ = await reach(harness, state)
        turn = await harness.dialog.turn(key, Inbound(text="stop"))
        well_formed(turn)
        assert turn.status == "closed"
        assert [k async for k in harness.redis.scan_iter("fd:{c:*")] == []
        turn = await harness.dialog.turn(key, Inbound(text="placeholder words"))
        assert turn.messages[0].text == harness.greeting()  # greeted as new: not even "expired"

    harness.run(check())


@pytest.mark.parametrize("state", sorted(STATES))
def test_good_answers_reach_a_submission_from_every_state(harness: Harness, state: str) -> None:
    async def check() -> None:
        key, _ = await reach(harness, state)
        await drive_to_submit(harness, key)

    harness.run(check())


# -- the question shown is the question answered ------------------------------------------------------


async def shown_question_is_awaited(h: Harness, key: ConversationKey, turn: Turn) -> None:
    """The last message of an open turn asks exactly what the engine will take the next answer as."""
    if turn.status == "closed":
        return
    asked, last, locale = await h.asked(key), turn.messages[-1], turn.locale
    if asked == "language":
        assert last.text == i18n.text(locale, "ask_language"), f"waits for a language, shows {last.text!r}"
    elif asked == "path":
        assert last.text in {i18n.text(locale, k) for k in ("ask_path", "after_submit", "after_help")}, last.text
    else:
        assert asked is not None
        question = i18n.text(locale, form.SLOTS[asked].ask_key, **form.ASK_VALUES.get(asked, {}))
        assert last.text.startswith(question), f"waits for {asked}, shows {last.text!r}"


def test_after_help_during_the_language_choice_the_question_shown_is_answered(harness: Harness) -> None:
    # Regression: "help" while the engine awaits a language (after "language", or after a "lang:" it could not
    # read) shows the help text and then the form's next question (Dialog._step: the help branch calls
    # _ask_next, which ignores state["awaiting"]), but state["awaiting"] stays "language": the reporter's
    # answer to the question shown goes to Dialog._language, is no language, and they are asked for a
    # language again. Here the category question is shown after help, "csam" is answered, and the reply
    # is "Which language would you like?" instead of the link question.
    async def check() -> None:
        key = new_key()
        turns = await walk(harness.dialog, key, ["report", "language", "help"])
        assert turns[-1].messages[-1].text == i18n.text("en", "ask_category")
        turn = await harness.dialog.turn(key, Inbound(text="csam"))
        assert turn.messages[-1].text.startswith(i18n.text("en", "ask_urls")), turn.messages[-1].text

    harness.run(check())


def test_the_question_shown_is_always_the_one_awaited(harness: Harness) -> None:
    # Regression: this property found the defect above (minimal example: "lang:" then "/help" in any state).
    snapshots: dict[str, dict[str, Any]] = {}

    # Commands and language choices weigh more here: they are what moves the engine outside the form.
    steering = st.one_of(st.sampled_from(["language", "lang:", "lang:xx", "help", "/help", "restart", "lang:de"]),
                         st.sampled_from(COMMAND_WORDS)).map(lambda t: Inbound(text=t))

    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(state=st.sampled_from(sorted(STATES)), inbounds=st.lists(st.one_of(INBOUNDS, steering), min_size=1, max_size=5))
    def prop(state: str, inbounds: list[Inbound]) -> None:
        async def example() -> None:
            if state not in snapshots:
                snapshots[state] = (await reach(harness, state))[1]
            key = await clone(harness, snapshots[state])
            closed = False
            for inbound in inbounds:
                turn = await check_turn(harness, key, inbound, was_closed=closed)
                closed = turn.status == "closed"
                await shown_question_is_awaited(harness, key, turn)

        harness.run(example())

    prop()
