"""The dialog's rasa-sdk actions: slot validation, submission and resource offers.

The same classes serve two masters: the built-in deterministic driver (engine.py) runs them
with a rasa-sdk Tracker and CollectingDispatcher, and `frontdoor actions` serves them to a
full Rasa assistant over rasa-sdk's webhook. They never send anything themselves: messages go
to the dispatcher, and the caller decides how they reach the reporter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from .. import ids
from ..keyring import Keyring
from ..reports import redaction, urls
from ..reports.build import CHANNELS
from ..reports.intake import ReportIntake
from . import form, i18n
from .countries import country_name, parse_country

if TYPE_CHECKING:
    from ..prevention_content import Catalog, Resource

# The reporter's role in the dialog, as the report schema records it.
REPORTER_ROLE = {"child": "child", "teen": "child", "parent_carer": "parent_carer", "other_adult": "other_adult",
                 "professional": "professional"}
AUDIENCE = {"child": "child", "teen": "teen", "parent_carer": "parent_carer", "other_adult": "bystander",
            "professional": "professional"}
TOPIC_OF_CATEGORY = {"sextortion": "sextortion", "grooming": "grooming", "self_generated": "image_removal",
                     "csam": "online_safety", "trafficking": "online_safety", "other": "online_safety"}
_YES = {"yes", "y", "1", "ja", "j", "oui", "o", "yeah", "yep", "sure"}
_NO = {"no", "n", "2", "nein", "non", "nope"}


def locale_of(tracker: Tracker) -> str:
    value = tracker.get_slot("language")
    return value if value in i18n.LOCALES else i18n.DEFAULT


def say(dispatcher: CollectingDispatcher, text: str, *, expects: str = "none", **custom: Any) -> None:
    dispatcher.utter_message(text=text, json_message={"expects": expects, **custom})


def _clean(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _is_skip(value: str, locale: str) -> bool:
    return value.lower() in {"skip", i18n.text(locale, "skip").lower()}


@dataclass(frozen=True)
class ActionContext:
    """What the actions need: given by the engine, or built from the environment when rasa-sdk's
    executor makes the actions itself (`frontdoor actions`, see `_Base`)."""

    intake: ReportIntake
    keyring: Keyring  # a contact is encrypted the moment it is validated
    catalog: Catalog
    default_region: str | None = None  # the hotline's country, for reading phone numbers


class _Base:
    """Given its context by the driver, or built from the environment on first use when rasa-sdk's
    executor instantiates the action itself (`python -m rasa_sdk --actions frontdoor.dialog.actions`):
    Sanic pickles the executor into its worker, and a live Redis client cannot be pickled."""

    def __init__(self, context: ActionContext | None = None) -> None:
        self._context = context

    @property
    def context(self) -> ActionContext:
        if self._context is None:
            from ..app import action_context_from_env  # the composition root; imported late, it imports us

            self._context = action_context_from_env()
        return self._context


class ValidateReportForm(_Base, FormValidationAction):
    def name(self) -> str:
        return "validate_report_form"

    def form_name(self) -> str:  # what rasa-sdk derives from name(), a dozen times a turn
        return form.FORM

    async def get_extraction_events(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> list[EventType]:
        """rasa-sdk asks every required slot for an `extract_<slot>` method and, finding none, returns no
        events: this form fills slots from the reporter's text (the driver, or Rasa's from_text mappings)."""
        if _has_extractors(type(self)):
            return await super().get_extraction_events(dispatcher, tracker, domain)
        return []

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> list[str]:
        return form.required_slots(tracker.slots)

    # -- choices --------------------------------------------------------------

    def _choice(self, name: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                choices: tuple[str, ...] | None = None) -> dict[str, Any]:
        spec, locale = form.SLOTS[name], locale_of(tracker)
        raw = _clean(value)
        if spec.skippable and _is_skip(raw, locale):
            return {name: ""}
        lowered = raw.lower()
        if choices is None:
            chosen = form.choice_titles(name, locale).get(lowered)
            if chosen is not None:
                return {name: chosen}
        else:
            for i, option in enumerate(choices, start=1):
                titles = {option, str(i)}
                if spec.label:
                    titles.add(i18n.text(locale, f"{spec.label}.{option}").lower())
                if lowered in titles:
                    return {name: option}
        say(dispatcher, i18n.text(locale, "choose_again"))
        return {name: None}

    def validate_path(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._choice("path", value, dispatcher, tracker)

    def validate_category(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        chosen = self._choice("category", value, dispatcher, tracker)
        tries = int(tracker.get_slot("url_tries") or 0)
        if (tracker.get_slot("urls") == [] and chosen["category"] not in (None, *form.NO_LINK_CATEGORIES)
                and tries < form.URL_TRIES_BEFORE_NO_LINK):
            # Changed (from the summary) to a category that needs a link: ask for it again.
            chosen.update(urls=None, platform=None, account=None)
        return chosen

    def validate_where_seen(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._choice("where_seen", value, dispatcher, tracker)

    def validate_role(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._choice("role", value, dispatcher, tracker)

    def validate_when_seen(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._choice("when_seen", value, dispatcher, tracker)

    def validate_topic(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._choice("topic", value, dispatcher, tracker)

    def validate_confirm(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._choice("confirm", value, dispatcher, tracker)

    def validate_change_field(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> dict[str, Any]:
        answered = tuple(f for f in form.CHANGEABLE if tracker.get_slot(f) is not None)
        chosen = self._choice("change_field", value, dispatcher, tracker, answered).get("change_field")
        if chosen is None:
            return {"change_field": None}
        # Forget that answer and the confirmation: the form asks it again, then the summary.
        cleared: dict[str, Any] = {"change_field": None, "confirm": None, chosen: None}
        if chosen == "urls":
            cleared.update(platform=None, account=None, url_tries=0)
        return cleared

    # -- free answers ---------------------------------------------------------

    def _text(self, name: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> str | None:
        """Trimmed, cut to the slot's limit (with a notice), redacted; None when empty."""
        spec, locale = form.SLOTS[name], locale_of(tracker)
        text = _clean(value)
        if not text:
            return None
        if spec.max_chars and len(text) > spec.max_chars:
            text = text[: spec.max_chars]
            say(dispatcher, i18n.text(locale, "text_too_long", limit=spec.max_chars))
        return redaction.redact(text, region=self._region(tracker))

    def _region(self, tracker: Tracker) -> str | None:
        return (redaction.region_for(tracker.get_slot("country") or None, locale_of(tracker))
                or redaction.region_for(self.context.default_region, None))

    def validate_urls(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        locale, raw = locale_of(tracker), _clean(value)
        tries = int(tracker.get_slot("url_tries") or 0)
        no_link_ok = tracker.get_slot("category") in form.NO_LINK_CATEGORIES or tries >= form.URL_TRIES_BEFORE_NO_LINK
        if raw.lower() in {"no_link", i18n.text(locale, "no_link").lower()} and no_link_ok:
            return {"urls": []}
        candidates = urls.find_urls(raw) or raw.split() or [raw]
        found: list[dict[str, str]] = []
        for candidate in candidates[:20]:
            try:
                parsed = urls.parse(candidate)
            except urls.UrlError as exc:
                tries += 1
                message = i18n.text(locale, f"url_error.{exc.reason}")
                if tries >= form.URL_TRIES_BEFORE_NO_LINK:
                    message += " " + i18n.text(locale, "url_error.give_up")
                say(dispatcher, message)
                return {"urls": None, "url_tries": tries}
            if all(f["normalized"] != parsed.normalized for f in found):
                found.append({"original": parsed.original, "normalized": parsed.normalized})
        return {"urls": found}

    def validate_platform(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return {"platform": self._text("platform", value, dispatcher, tracker)}

    def validate_account(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if _is_skip(_clean(value), locale_of(tracker)):
            return {"account": ""}
        return {"account": self._text("account", value, dispatcher, tracker)}

    def validate_description(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> dict[str, Any]:
        if _is_skip(_clean(value), locale_of(tracker)):
            return {"description": ""}
        return {"description": self._text("description", value, dispatcher, tracker)}

    def validate_danger(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        locale = locale_of(tracker)
        answer = _clean(value).lower().rstrip(".!")
        if answer in _YES or answer == i18n.text(locale, "answer.yes").lower():
            return {"danger": True}
        if answer in _NO or answer == i18n.text(locale, "answer.no").lower():
            return {"danger": False}
        say(dispatcher, i18n.text(locale, "yes_no_again"))
        return {"danger": None}

    def validate_country(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        locale, raw = locale_of(tracker), _clean(value)
        if _is_skip(raw, locale):
            return {"country": ""}
        code = parse_country(raw) if len(raw) <= 80 else None
        if code is None:
            say(dispatcher, i18n.text(locale, "country_unknown", example=country_name("FR" if locale != "fr" else "DE", locale)))
            return {"country": None}
        return {"country": code}

    def validate_contact(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        text = _clean(value)
        if len(text) < 3:
            return {"contact": None}
        # Encrypted at once: the conversation state never holds a reporter's contact in clear.
        return {"contact": self.context.keyring.encrypt(text[: form.SLOTS["contact"].max_chars])}

    async def validate_receipt_code(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        locale, raw = locale_of(tracker), _clean(value)
        if _is_skip(raw, locale):
            return {"receipt_code": ""}
        code = ids.canonical_receipt(raw)
        status = await self.context.intake.status(code) if code else None
        if status is None:
            say(dispatcher, i18n.text(locale, "receipt_unknown"))
            return {"receipt_code": None}
        say(dispatcher, i18n.text(locale, f"receipt_status.{status}"))
        return {"receipt_code": code}


_EXTRACTORS: dict[type, bool] = {}


def _has_extractors(cls: type) -> bool:
    if cls not in _EXTRACTORS:
        _EXTRACTORS[cls] = any(name.startswith("extract_") for name in dir(cls))
    return _EXTRACTORS[cls]


class ActionSubmitReport(_Base, Action):
    def name(self) -> str:
        return "action_submit_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        locale = locale_of(tracker)
        accepted = await self.context.intake.submit(self.fields(tracker.slots, locale), self.channel(tracker.slots))
        self.announce(dispatcher, locale, accepted.receipt)
        return [SlotSet("receipt", accepted.receipt)]

    # The engine prepares the report with the intake and queues it once the conversation holding it is
    # written (see Dialog._complete); rasa-sdk's executor submits it in one go (`run`).

    def fields(self, slots: dict[str, Any], locale: str) -> dict[str, Any]:
        """The submission the filled form makes, for the intake."""
        no_link = slots.get("urls") == []
        fields: dict[str, Any] = {
            "category": slots["category"],
            "urls": [u["original"] for u in slots.get("urls") or []],
            "where_seen": {"type": slots["where_seen"], "platform": slots.get("platform") or None,
                           "account": slots.get("account") or None} if slots.get("where_seen") else None,
            "description": slots.get("description") or None,
            "reporter_role": REPORTER_ROLE.get(slots.get("role") or "", "unknown"),
            "reporter_country": slots.get("country") or None,
            "child_in_immediate_danger": bool(slots.get("danger")),
            "when_seen": slots.get("when_seen") or None,
            "locale": locale,
        }
        if no_link and not fields["where_seen"]:
            fields["where_seen"] = {"type": "other", "platform": slots.get("platform"), "account": slots.get("account") or None}
        if slots.get("contact"):
            fields["contact"] = self.context.keyring.decrypt(slots["contact"])
            fields["contact_consent"] = True
        return fields

    @staticmethod
    def channel(slots: dict[str, Any]) -> str:
        # A Rasa assistant may not set the channel slot, or set its own names ("rest"): those are "api".
        return str(slots["channel"]) if slots.get("channel") in CHANNELS else "api"

    @staticmethod
    def announce(dispatcher: CollectingDispatcher, locale: str, receipt: str) -> None:
        say(dispatcher, i18n.text(locale, "submitted", receipt=receipt), receipt=receipt)
        say(dispatcher, i18n.text(locale, "what_next"))


class ActionOfferResources(_Base, Action):
    def name(self) -> str:
        return "action_offer_resources"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        slots, locale = tracker.slots, locale_of(tracker)
        path = slots.get("path")
        if path == "self":
            say(dispatcher, i18n.text(locale, "self_intro"))
        chosen = resources_for(self.context.catalog, path=path, role=slots.get("role"), category=slots.get("category"),
                               topic=slots.get("topic"), country=slots.get("country") or None, locale=locale)
        if chosen:
            cards = [{"title": r.title, "body": r.body, "url": r.url, "phone_display": r.phone_display,
                      "phone_uri": r.phone_uri} for r in chosen]
            intro = "resources_intro" if path == "report" else "help_done_intro"
            say(dispatcher, i18n.text(locale, intro), resources=cards)
        return []


class _AskSlot(_Base, Action, ABC):
    """`action_ask_<slot>` for the questions that depend on earlier answers (the summary before
    confirming, the "no link" choice, the answers one may change), so a Rasa assistant asks them
    exactly as the built-in driver does: both call form.ask. Rasa prefers these to utter_ask_*."""

    @property
    @abstractmethod
    def slot(self) -> str: ...

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        for message in form.ask(self.slot, tracker.slots, locale_of(tracker)):
            buttons = [{"title": q.title, "payload": q.payload} for q in message.quick_replies]
            dispatcher.utter_message(text=message.text, buttons=buttons, json_message={"expects": message.expects})
        return []


class ActionAskUrls(_AskSlot):
    slot = "urls"


class ActionAskConfirm(_AskSlot):
    slot = "confirm"


class ActionAskChangeField(_AskSlot):
    slot = "change_field"


def resources_for(catalog: Catalog, *, path: str | None, role: str | None, category: str | None, topic: str | None,
                  country: str | None, locale: str) -> list[Resource]:
    """At most three resources for who this reporter is and what happened (dialog and web form alike)."""
    chosen_topic: str | None
    if path == "self":
        audience, chosen_topic = "worried_about_self", "perpetrator_prevention"
    else:
        audience = AUDIENCE.get(role or "", "bystander")
        chosen_topic = topic if path == "get_help" else TOPIC_OF_CATEGORY.get(category or "")
    return catalog.select(audience=audience, topic=chosen_topic, country=country, locale=locale, limit=3)


def registered(context: ActionContext | None = None) -> list[Action]:
    """Every action this package serves: the explicit list, not discovery by subclass scanning."""
    return [ValidateReportForm(context), ActionSubmitReport(context), ActionOfferResources(context),
            ActionAskUrls(context), ActionAskConfirm(context), ActionAskChangeField(context)]


