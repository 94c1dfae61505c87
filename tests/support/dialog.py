"""Walking the dialog in tests: a real engine on a real Redis and the real content."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from frontdoor.dialog.engine import Dialog
from frontdoor.dialog.messages import EXPECTS, ConversationKey, Inbound, Turn
from frontdoor.dialog.store import ConversationStore
from frontdoor.keyring import Keyring
from frontdoor.prevention_content import Catalog, load_catalog
from frontdoor.queue import TriageQueue
from frontdoor.reports.intake import ReportIntake


def well_formed(turn: Turn) -> None:
    assert turn.messages, "every turn says something"
    for m in turn.messages:
        assert isinstance(m.text, str) and m.text.strip(), m
        assert m.expects in EXPECTS
        for q in m.quick_replies:
            assert q.title.strip() and q.payload.strip()
        for r in m.resources:
            assert r.title and r.body
            assert r.url is None or r.url.startswith("https://")
            assert r.phone_uri is None or r.phone_uri.startswith("tel:")
    assert turn.status in ("open", "submitted", "closed")


async def walk(dialog: Dialog, key: ConversationKey, answers: list[Any], **start: Any) -> list[Turn]:
    """Start a conversation and answer; a str is typed text, a ("payload", x) tuple a button."""
    turns = [await dialog.start(key, **start)]
    for answer in answers:
        inbound = Inbound(payload=answer[1]) if isinstance(answer, tuple) else Inbound(text=answer)
        turns.append(await dialog.turn(key, inbound))
        well_formed(turns[-1])
    return turns


def last_question(turn: Turn) -> str:
    return turn.messages[-1].text


# One valid answer for every question the dialog can ask, by what it expects.
GOOD = {
    "path": "report", "category": "csam", "urls": "https://example.com/good-answer", "platform": "Example Chat",
    "account": "skip", "where_seen": "website", "description": "skip", "danger": "no", "role": "other_adult",
    "country": "skip", "when_seen": "skip", "confirm": "send", "change_field": "category", "contact": "someone@example.com",
    "topic": "online_safety", "receipt_code": "skip",
}


@dataclass(frozen=True)
class DialogParts:
    """What a dialog is built from in the app (frontdoor/app.py), for tests that build their own."""

    queue: TriageQueue
    keyring: Keyring
    catalog: Catalog
    intake: ReportIntake
    hotline: str = "Example Hotline"

    def dialog(self, store: ConversationStore) -> Dialog:
        return Dialog(store, self.intake, self.keyring, self.catalog, hotline_name=self.hotline)


def dialog_parts(queue: TriageQueue, keyring: Keyring, *, hotline: str = "Example Hotline") -> DialogParts:
    return DialogParts(queue, keyring, load_catalog(), ReportIntake(queue, keyring), hotline)
