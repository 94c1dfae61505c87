"""What a Rasa assistant posts to an action server's /webhook, for the tests that play Rasa."""

from __future__ import annotations

import time
from typing import Any

import rasa_sdk

from frontdoor.dialog import domain as rasa_domain
from frontdoor.dialog import form

RASA_VERSION = ".".join(rasa_sdk.__version__.split(".")[:2]) + ".0"  # a Rasa 3.x of the same minor: no warning


def tracker(slots: dict[str, Any], text: str = "", requested: str | None = None) -> dict[str, Any]:
    """A tracker as Rasa 3 sends it: every domain slot (unset ones null), the user's message, and
    during the form the slot candidate the `from_text` mapping extracted, as a slot event."""
    now = time.time()
    all_slots: dict[str, Any] = {name: None for name in rasa_domain.domain()["slots"]}
    all_slots.update({"language": "en", **slots})
    intent = {"name": "inform", "confidence": 1.0}
    events: list[dict[str, Any]] = [
        {"event": "action", "timestamp": now - 2, "name": "action_listen", "policy": None, "confidence": None},
        {"event": "user", "timestamp": now - 1, "text": text,
         "parse_data": {"text": text, "intent": intent, "entities": []}, "input_channel": "rest"},
    ]
    if requested is not None:
        all_slots["requested_slot"] = requested
        all_slots[requested] = text
        events.append({"event": "slot", "timestamp": now, "name": requested, "value": text})
    return {
        "sender_id": "rasa-sender-placeholder",
        "slots": all_slots,
        "latest_message": {"text": text, "intent": intent, "entities": []},
        "events": events,
        "paused": False,
        "followup_action": None,
        "active_loop": {"name": form.FORM} if requested is not None else {},
        "latest_action_name": "action_listen",
        "latest_input_channel": "rest",
    }


def action_call(action: str, slots: dict[str, Any], text: str = "", requested: str | None = None) -> dict[str, Any]:
    return {"next_action": action, "sender_id": "rasa-sender-placeholder", "tracker": tracker(slots, text, requested),
            "domain": rasa_domain.domain(), "version": RASA_VERSION}
