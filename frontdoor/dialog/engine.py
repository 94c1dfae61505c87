"""The deterministic driver: one reporter turn in, channel-neutral messages out.

It does what a Rasa assistant's core would do for this one form: keeps the slots, hands the
reporter's answer to the rasa-sdk validation action as a slot candidate, asks the next
missing slot, and runs the submission and resource actions when the form is complete.
Around that it adds what must hold in every state: commands (help, restart, stop, language)
and safeguarding, which answers words of danger at once and then carries on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import orjson

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from .. import ids
from ..errors import NotFound, Unavailable
from ..keyring import Keyring
from ..reports.intake import ReportIntake
from . import form, i18n
from .actions import ActionContext, ActionOfferResources, ActionSubmitReport, ValidateReportForm
from .domain import domain as rasa_domain
from .messages import EXPECTS, ConversationKey, Inbound, Message, QuickReply, ResourceCard, Turn
from .store import Answered, ConversationStore, Loaded

if TYPE_CHECKING:
    from ..prevention_content import Catalog

log = logging.getLogger(__name__)

MAX_INBOUND_CHARS = 10_000  # anything longer is cut before it reaches a slot (slots cut further)
COMMANDS = {
    "help": {"/help", "help", "hilfe", "aide", "?"},
    "restart": {"/restart", "restart", "neu starten", "neustart", "recommencer"},
    "stop": {"/stop", "stop", "stopp", "arrêter", "arreter", "done"},
    "language": {"/language", "language", "sprache", "langue"},
    "resume": {"/resume"},  # a channel picking a conversation up again (the widget after a reload)
}
# How often one turn is computed again while other processes keep writing its conversation.
MAX_ATTEMPTS = 5
SENT_REMEMBERED = 10_000  # report ids this process queued, so their outboxes are dropped without asking Redis


class ConversationNotFound(NotFound):
    code = "conversation_not_found"


class Dialog:
    def __init__(self, store: ConversationStore, intake: ReportIntake, keyring: Keyring, catalog: Catalog, *,
                 default_region: str | None = None, hotline_name: str = "Hotline") -> None:
        self._store = store
        self._intake = intake
        self._keyring = keyring
        self._catalog = catalog
        self._hotline_name = hotline_name
        context = ActionContext(intake, keyring, catalog, default_region)
        self._validate = ValidateReportForm(context)
        self._submit = ActionSubmitReport(context)
        self._offer = ActionOfferResources(context)
        self._domain: DomainDict = rasa_domain()
        self._sent: OrderedDict[str, None] = OrderedDict()

    def pseudonym(self, key: ConversationKey) -> str:
        """The conversation's only name in Redis and logs: a keyed hash of channel and sender."""
        return self._keyring.pseudonym(key.channel, key.sender)

    async def aclose(self) -> None:
        await self._store.aclose()

    # -- entry points -----------------------------------------------------------

    async def start(self, key: ConversationKey, *, locale_hint: str | None = None,
                    country_hint: str | None = None) -> Turn:
        """Begin (or begin again) a conversation: the greeting and the first question."""
        state = self._new_state(key.channel, i18n.choose_locale(locale_hint), country_hint)
        messages = self._greeting(state)
        await self._store.save(self.pseudonym(key), state)
        return Turn(messages, locale=state["slots"]["language"])

    async def turn(self, key: ConversationKey, inbound: Inbound, *, locale_hint: str | None = None,
                   country_hint: str | None = None, start_if_missing: bool = True) -> Turn:
        """One reporter turn. Messaging apps have no "start": a message from someone without a
        conversation starts one. The web channel starts explicitly, so for it (start_if_missing
        False) a missing conversation is an error the widget answers by starting over.

        Usually one round trip: the state comes from this process's cache and the turn's write is
        conditional on Redis still holding that state (ConversationStore.commit). If it does not,
        the turn is computed again from what Redis holds.

        The turn that completes a report makes two: it writes the conversation with the built report
        in an outbox (conditional, as every turn: so a stale copy never submits anything), then
        queues the report. Should the second fail, the reporter has been told nothing yet, and the
        conversation's next turn, in whichever process, queues it (again: the queue refuses a report
        it already holds) and shows its receipt.

        An inbound with a `message_id` is answered once: its answer is kept with the commit, and the
        same id again (a provider's redelivery, even one arriving concurrently) gets that answer back
        without moving the conversation on (ConversationStore.commit)."""
        pseudonym = self.pseudonym(key)
        digest = hashlib.sha256(inbound.message_id.encode()).hexdigest()[:32] if inbound.message_id else None
        loaded = await self._store.load(pseudonym)
        for _ in range(MAX_ATTEMPTS):
            turn, state = await self._compute(loaded, inbound, key.channel, locale_hint, country_hint, start_if_missing)
            answer = (digest, orjson.dumps(turn.as_dict())) if digest else None
            current = await self._store.commit(pseudonym, loaded, state, answer=answer)
            if isinstance(current, Answered):
                return await self._answered_before(pseudonym, Turn.from_dict(orjson.loads(current.answer)))
            if current is None:
                outbox = state.get("outbox") if state is not None else None
                if outbox is not None:  # written just now, by this turn (_compute takes any older one out)
                    return await self._deliver(outbox, turn)
                return turn
            log.info("conversation moved on in Redis meanwhile: turn computed again")
            loaded = current
        raise Unavailable("This conversation is busy. Please try again in a moment.")

    async def _answered_before(self, pseudonym: str, turn: Turn) -> Turn:
        """A redelivered inbound's first answer. If that answer was a receipt, the report it names may
        not be queued yet (Redis failed right after the first commit): queue it from the state's
        outbox now, so a receipt a reporter is shown always names a stored report."""
        if turn.status == "submitted":
            outbox = ((await self._store.read(pseudonym)).state or {}).get("outbox")
            if outbox is not None and outbox["report"]["id"] not in self._sent:
                await self._queue(outbox)
        return turn

    async def _compute(self, loaded: Loaded, inbound: Inbound, channel: str, locale_hint: str | None,
                       country_hint: str | None, start_if_missing: bool) -> tuple[Turn, dict[str, Any] | None]:
        """The turn, and the state to write (None: forget the conversation). Writes nothing, and
        queues a report only from an outbox a turn before this one wrote to Redis."""
        if loaded.state is None and not start_if_missing:
            raise ConversationNotFound("This conversation has ended or expired. Please start a new one.")
        if loaded.state is None:
            state = self._new_state(channel, i18n.choose_locale(locale_hint), country_hint)
            greeting = [Message(self._t(state, "expired"))] if loaded.seen_before else []
            greeting += self._greeting(state)
            return Turn(greeting, locale=state["slots"]["language"]), state

        state = loaded.state
        outbox = state.pop("outbox", None)
        if outbox is not None and outbox["report"]["id"] not in self._sent:
            return await self._deliver_late(state, outbox), state
        # Lone surrogates (valid in JSON, not in UTF-8) would fail when the state is saved.
        value = inbound.value.strip()[:MAX_INBOUND_CHARS].encode("utf-8", "replace").decode("utf-8")
        command = self._command(value)
        if command == "stop":
            locale = state["slots"]["language"]
            return Turn([Message(i18n.text(locale, "stopped"))], status="closed", locale=locale), None

        messages: list[Message] = []
        if inbound.text is not None:
            messages += self._safeguarding(state, value)
        turn = await self._step(state, value, command, messages)
        return turn, (None if turn.status == "closed" else state)

    async def _deliver(self, outbox: dict[str, Any], turn: Turn) -> Turn:
        """Queue the outbox's report, written with the conversation just now; the turn, as shown."""
        receipt = await self._queue(outbox)
        if receipt != outbox["receipt"]:  # its code was taken meanwhile (about 1 in 2^50): show the one it got
            messages = [dataclasses.replace(m, text=m.text.replace(outbox["receipt"], receipt)) for m in turn.messages]
            turn = Turn(messages, status=turn.status, receipt=receipt, locale=turn.locale)
        return turn

    async def _deliver_late(self, state: dict[str, Any], outbox: dict[str, Any]) -> Turn:
        """An outbox from a turn that did not see its report queued (Redis failed in between, or
        another process wrote it): queue it now, whatever was said, and say what that turn would have."""
        log.info("report from an earlier turn's outbox queued now")
        receipt = await self._queue(outbox)
        locale = state["slots"]["language"]
        dispatcher = CollectingDispatcher()
        self._submit.announce(dispatcher, locale, receipt)
        messages = _messages(dispatcher)
        messages.append(Message(self._t(state, "after_submit"), self._path_replies(state, finished=True), "choice"))
        return Turn(messages, status="submitted", receipt=receipt, locale=locale)

    async def _queue(self, outbox: dict[str, Any]) -> str:
        """Queue once or again: a report the queue holds already is done (its receipt is the outbox's)."""
        report = outbox["report"]
        receipt = (await self._intake.enqueue(report, receipt=outbox["receipt"])).receipt
        self._sent[report["id"]] = None
        while len(self._sent) > SENT_REMEMBERED:
            self._sent.popitem(last=False)
        return str(receipt)

    # -- one step ----------------------------------------------------------------

    async def _step(self, state: dict[str, Any], value: str, command: str | None, messages: list[Message]) -> Turn:
        slots = state["slots"]
        if command == "restart":
            state.clear()
            state.update(self._new_state(slots.get("channel") or "terminal", slots["language"], slots.get("country") or None))
            return Turn([Message(self._t(state, "restarted"))] + self._ask_next(state), locale=state["slots"]["language"])
        if command == "language" or value.startswith("lang:"):
            return self._language(state, value, messages)
        if command == "resume":
            if state.get("awaiting") == "language":
                return self._language(state, "", messages)
            return Turn(messages + self._ask_next(state), locale=slots["language"])
        if state.pop("awaiting", None) == "language" and i18n.parse_language_choice(value):
            return self._language(state, value, messages)
        # Anything else ends a wait for a language and is taken as usual: nobody gets stuck there.
        if command == "help":
            return Turn(messages + [Message(self._t(state, "help_text"))] + self._ask_next(state), locale=slots["language"])

        requested = form.next_slot(slots)
        if requested is None:  # a finished conversation: start the next request
            slots["path"] = None
            requested = "path"
        dispatcher = CollectingDispatcher()
        tracker = self._tracker(state, requested, value)
        events = await self._validate.run(dispatcher, tracker, self._domain)
        for event in events:
            if event.get("event") == "slot":
                slots[event["name"]] = event["value"]
        messages += _messages(dispatcher)

        if slots.get("confirm") == "cancel":
            return Turn(messages + [Message(self._t(state, "cancelled"))], status="closed", locale=slots["language"])
        if (asked := form.next_slot(slots)) is not None:
            return Turn(messages + self._ask_next(state, asked), locale=slots["language"])
        return await self._complete(state, messages)

    async def _complete(self, state: dict[str, Any], messages: list[Message]) -> Turn:
        """The form is full: the report into the outbox (report path), resources offered, and what next.
        The report is queued once the conversation is written (see `turn`)."""
        slots = state["slots"]
        path, receipt, status = slots.get("path"), None, "open"
        if path == "report":
            fields = self._submit.fields(slots, slots["language"])
            report = self._intake.prepare(fields, self._submit.channel(slots))
            receipt = ids.new_receipt()
            state["outbox"] = {"report": report, "receipt": receipt}
            dispatcher = CollectingDispatcher()
            self._submit.announce(dispatcher, slots["language"], receipt)
            messages += _messages(dispatcher)
            status = "submitted"
        if path in ("report", "get_help", "self"):
            messages += await self._run(self._offer, state)
        kept = {k: slots.get(k) for k in (*form.STICKY, "channel")}
        slots.clear()
        slots.update(kept)
        slots["path"] = None
        after = "after_submit" if path == "report" else "after_help"
        messages.append(Message(self._t(state, after), self._path_replies(state, finished=True), "choice"))
        return Turn(messages, status=status, receipt=receipt, locale=slots["language"])  # type: ignore[arg-type]

    async def _run(self, action: Action, state: dict[str, Any]) -> list[Message]:
        dispatcher = CollectingDispatcher()
        tracker = self._tracker(state, None, "")
        for event in await action.run(dispatcher, tracker, self._domain):
            if event.get("event") == "slot":
                state["slots"][event["name"]] = event["value"]
        return _messages(dispatcher)

    # -- pieces -------------------------------------------------------------------

    def _tracker(self, state: dict[str, Any], requested: str | None, value: str) -> Tracker:
        """A rasa-sdk Tracker as Rasa would hand it to the action: the slots, the user's
        message, and (during the form) the slot candidate appended as a SlotSet event."""
        slots = dict(state["slots"])
        events: list[dict[str, Any]] = [{"event": "user", "text": value, "timestamp": time.time()}]
        if requested is not None:
            slots["requested_slot"] = requested
            slots[requested] = value
            events.append({"event": "slot", "name": requested, "value": value, "timestamp": time.time()})
        return Tracker(
            sender_id="pseudonymous", slots=slots,
            latest_message={"text": value, "intent": {"name": "inform", "confidence": 1.0}, "entities": []},
            events=events, paused=False, followup_action=None,
            active_loop={"name": form.FORM} if requested is not None else {},
            latest_action_name="action_listen",
        )

    def _new_state(self, channel: str, locale: str, country: str | None) -> dict[str, Any]:
        slots: dict[str, Any] = {"language": locale, "channel": channel, "path": None}
        if country:
            slots["country"] = country.upper()  # taken from the channel: not asked again
        return {"slots": slots}

    def _greeting(self, state: dict[str, Any]) -> list[Message]:
        slots = state["slots"]
        emergency = self._catalog.emergency_number(slots.get("country") or None)
        greeting = self._t(state, "greeting", hotline=self._hotline_name, emergency=emergency)
        return [Message(greeting)] + self._ask_next(state)

    def _ask_next(self, state: dict[str, Any], name: str | None = None) -> list[Message]:
        """The next question: `name`'s, when the caller has just worked it out (form.next_slot)."""
        slots = state["slots"]
        name = name or form.next_slot(slots) or "path"
        if name == "path":
            return [Message(self._t(state, "ask_path"), self._path_replies(state, finished=False), "choice")]
        return form.ask(name, slots, slots["language"])

    def _path_replies(self, state: dict[str, Any], *, finished: bool) -> tuple[QuickReply, ...]:
        replies = form.choice_replies(form.SLOTS["path"], state["slots"]["language"])
        if finished:
            replies += (QuickReply(self._t(state, "done"), "/stop"),)
        return replies

    def _language(self, state: dict[str, Any], value: str, messages: list[Message]) -> Turn:
        chosen = i18n.parse_language_choice(value.removeprefix("lang:"))
        slots = state["slots"]
        if chosen is None:
            state["awaiting"] = "language"
            replies = tuple(QuickReply(i18n.text(loc, "language_name"), f"lang:{loc}") for loc in i18n.LOCALES)
            return Turn(messages + [Message(self._t(state, "ask_language"), replies, "choice")], locale=slots["language"])
        state.pop("awaiting", None)
        slots["language"] = chosen
        return Turn(messages + [Message(self._t(state, "language_set"))] + self._ask_next(state), locale=chosen)

    def _command(self, value: str) -> str | None:
        lowered = value.lower().rstrip(".!")
        return next((name for name, words in COMMANDS.items() if lowered in words), None)

    def _safeguarding(self, state: dict[str, Any], text: str) -> list[Message]:
        """Words of danger get the emergency number and a helpline at once, before anything else."""
        catalog = self._catalog
        hits = catalog.safeguarding_hits(text)
        if not hits:
            return []
        lines = catalog.lines_for(state["slots"].get("country") or None)
        # A country without its own entry gets the generic lines: say "your local emergency number".
        emergency = lines.emergency if lines.country else self._t(state, "safeguarding.emergency_generic") + f" ({lines.emergency})"
        out: list[Message] = []
        if "danger_now" in hits:
            text_ = self._t(state, "safeguarding.danger_now", emergency=emergency)
            if lines.child_helpline:
                text_ += " " + self._t(state, "safeguarding.child_helpline", name=lines.child_helpline_name, number=lines.child_helpline)
            out.append(Message(text_))
        if "self_harm" in hits:
            if lines.crisis_line or lines.child_helpline:
                name = lines.crisis_line_name if lines.crisis_line else lines.child_helpline_name
                number = lines.crisis_line or lines.child_helpline
                out.append(Message(self._t(state, "safeguarding.self_harm", emergency=emergency, name=name, number=number)))
            else:
                out.append(Message(self._t(state, "safeguarding.self_harm_no_line", emergency=emergency)))
        out.append(Message(self._t(state, "safeguarding.continue")))
        log.info("safeguarding answered: %s", ",".join(sorted(hits)))
        return out

    def _t(self, state: dict[str, Any], key: str, **values: Any) -> str:
        return i18n.text(state["slots"]["language"], key, **values)


def _messages(dispatcher: CollectingDispatcher) -> list[Message]:
    out = []
    for m in dispatcher.messages:
        custom = m.get("custom") or {}
        expects = custom.get("expects", "none")
        cards = tuple(ResourceCard(**c) for c in custom.get("resources", []))
        replies = tuple(QuickReply(b["title"], b["payload"]) for b in m.get("buttons") or [])
        out.append(Message(m.get("text") or "", replies, expects if expects in EXPECTS else "none", cards))
    return out
