"""The questions of the report form, declared as data: what each slot expects, how it is
asked, and which slots a conversation still needs given the answers so far.

This is the one place the order of the dialog lives; the rasa-sdk validation action and the
generated Rasa domain both read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from .. import ids
from . import i18n
from .messages import Expects, Message, QuickReply

FORM = "report_form"


@dataclass(frozen=True)
class SlotSpec:
    name: str
    expects: Expects
    choices: tuple[str, ...] = ()  # payload values; titles are i18n keys f"{label}.{value}"
    label: str = ""
    skippable: bool = False
    max_chars: int = 0

    @property
    def ask_key(self) -> str:
        return f"ask_{self.name}"


SLOTS: dict[str, SlotSpec] = {s.name: s for s in (
    # "get_help", not "help": that word is the help command in every state.
    SlotSpec("path", "choice", ("report", "get_help", "self", "receipt"), "path"),
    SlotSpec("category", "choice", ("csam", "grooming", "sextortion", "self_generated", "trafficking", "other"), "category"),
    SlotSpec("urls", "url"),
    SlotSpec("platform", "text", max_chars=100),
    SlotSpec("account", "text", skippable=True, max_chars=200),
    SlotSpec("where_seen", "choice", ("website", "social_media", "messaging_app", "game", "other"), "where"),
    SlotSpec("description", "text", skippable=True, max_chars=4000),
    SlotSpec("danger", "yes_no"),
    SlotSpec("role", "choice", ("child", "teen", "parent_carer", "other_adult", "professional"), "role"),
    SlotSpec("country", "country", skippable=True),
    SlotSpec("when_seen", "choice", ("today", "this_week", "earlier"), "when", skippable=True),
    SlotSpec("confirm", "choice", ("send", "send_contact", "change", "cancel"), "confirm"),
    SlotSpec("change_field", "choice"),  # its choices are the answers given so far
    SlotSpec("contact", "text", max_chars=200),
    SlotSpec("topic", "choice", ("sextortion", "image_removal", "grooming", "online_safety", "emotional_support"), "topic"),
    SlotSpec("receipt_code", "text", skippable=True, max_chars=40),
)}

# Answers a reporter can go back and change from the summary, in the order they were asked.
CHANGEABLE = ("category", "urls", "where_seen", "description", "danger", "role", "country", "when_seen")
NO_LINK_CATEGORIES = ("grooming", "sextortion")
URL_TRIES_BEFORE_NO_LINK = 3
# Values a question's text names: the receipt code's shape is shown with the one example (ids.py).
ASK_VALUES: dict[str, dict[str, str]] = {"receipt_code": {"example": ids.RECEIPT_EXAMPLE}}
# Kept across a finished report or help request in the same conversation.
STICKY = ("language", "country", "role")


def required_slots(slots: dict[str, Any]) -> list[str]:
    """The slots this conversation needs, in order; the next question is the first one missing."""
    path = slots.get("path")
    if path is None:
        return ["path"]
    if path == "get_help":
        return ["path", "role", "topic", "country"]
    if path == "self":
        return ["path", "country"]
    if path == "receipt":
        return ["path", "receipt_code"]
    needed = ["path", "category", "urls"]
    if slots.get("urls") == []:
        needed += ["platform", "account"]
    needed += ["where_seen", "description", "danger", "role", "country", "when_seen", "confirm"]
    if slots.get("confirm") == "change":
        needed.append("change_field")
    if slots.get("confirm") == "send_contact":
        needed.append("contact")
    return needed


def next_slot(slots: dict[str, Any]) -> str | None:
    return next((s for s in required_slots(slots) if slots.get(s) is None), None)


# The buttons below depend on nothing but the slot and the locale, and are immutable: made once
# per pair instead of on every question asked.
def choice_replies(spec: SlotSpec, locale: str) -> tuple[QuickReply, ...]:
    return _choice_replies(spec.name, locale)


@cache
def _choice_replies(name: str, locale: str) -> tuple[QuickReply, ...]:
    spec = SLOTS[name]
    return tuple(QuickReply(i18n.text(locale, f"{spec.label}.{v}"), v) for v in spec.choices)


@cache
def skip_reply(locale: str) -> QuickReply:
    return QuickReply(i18n.text(locale, "skip"), "skip")


@cache
def yes_no_replies(locale: str) -> tuple[QuickReply, ...]:
    return QuickReply(i18n.text(locale, "answer.yes"), "yes"), QuickReply(i18n.text(locale, "answer.no"), "no")


@cache
def choice_titles(name: str, locale: str) -> Mapping[str, str]:
    """What a reporter may type to choose each of the slot's options: its payload, its number
    (from 1) or its title in `locale`, any case; the first option to claim a word keeps it."""
    spec = SLOTS[name]
    titles: dict[str, str] = {}
    for i, option in enumerate(spec.choices, start=1):
        for title in (option, str(i), i18n.text(locale, f"{spec.label}.{option}").lower() if spec.label else option):
            titles.setdefault(title, option)
    return titles


# Questions that show earlier answers (the summary, the answers one may change) or depend on them.
ASKED_FROM_ANSWERS = ("urls", "confirm", "change_field")


def ask(name: str, slots: dict[str, Any], locale: str) -> list[Message]:
    """The question for slot `name`, with its choices, as a channel-neutral message."""
    if name not in ASKED_FROM_ANSWERS:
        return list(_fixed_question(name, locale))
    return _ask(name, slots, locale)


@cache
def _fixed_question(name: str, locale: str) -> tuple[Message, ...]:
    """A question that is the same for everyone in a locale: made once (messages are immutable)."""
    return tuple(_ask(name, {}, locale))


def _ask(name: str, slots: dict[str, Any], locale: str) -> list[Message]:
    spec = SLOTS[name]
    text = i18n.text(locale, spec.ask_key, **ASK_VALUES.get(name, {}))
    replies: tuple[QuickReply, ...] = ()
    if spec.expects == "choice" and name != "change_field":
        replies = choice_replies(spec, locale)
    elif name == "change_field":
        replies = tuple(QuickReply(summary_line(f, slots, locale), f) for f in CHANGEABLE if slots.get(f) is not None)
    elif spec.expects == "yes_no":
        replies = yes_no_replies(locale)
    if name == "urls":
        if slots.get("category") in NO_LINK_CATEGORIES or int(slots.get("url_tries") or 0) >= URL_TRIES_BEFORE_NO_LINK:
            text += " " + i18n.text(locale, "ask_urls.no_link_allowed")
            replies = (QuickReply(i18n.text(locale, "no_link"), "no_link"),)
    if spec.skippable:
        replies += (skip_reply(locale),)
    messages = []
    if name == "confirm":
        messages.append(Message(summary(slots, locale)))
    messages.append(Message(text, replies, "choice" if name == "change_field" else spec.expects))
    return messages


def display(field: str, slots: dict[str, Any], locale: str) -> str:
    from .countries import country_name

    value = slots.get(field)
    spec = SLOTS[field]
    if value in (None, ""):
        return i18n.text(locale, "skip")
    if field == "urls":
        return ", ".join(u["original"] for u in value)
    if field == "danger":
        return i18n.text(locale, "answer.yes" if value else "answer.no")
    if field == "country":
        return country_name(value, locale)
    if spec.choices:
        return i18n.text(locale, f"{spec.label}.{value}")
    text = str(value)
    return text if len(text) <= 200 else text[:200] + "…"


def summary_line(field: str, slots: dict[str, Any], locale: str) -> str:
    if field == "urls" and slots.get("urls") == []:
        where = " / ".join(x for x in (slots.get("platform"), slots.get("account")) if x)
        return i18n.text(locale, "summary.no_link", value=where)
    return i18n.text(locale, f"summary.{field}", value=display(field, slots, locale))


def summary(slots: dict[str, Any], locale: str) -> str:
    lines = [i18n.text(locale, "summary_intro")]
    lines += [f"- {summary_line(f, slots, locale)}" for f in CHANGEABLE if slots.get(f) is not None]
    return "\n".join(lines)
