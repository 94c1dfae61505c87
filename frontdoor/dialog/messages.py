"""Channel-neutral messages: what the dialog says, and hints for rendering it natively.

A channel turns `quick_replies` into buttons or numbered choices, `expects` into an input
type (a URL field, a yes/no keyboard), and `resources` into cards with tel: links.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Expects = Literal["choice", "url", "text", "yes_no", "country", "none"]
EXPECTS: tuple[str, ...] = ("choice", "url", "text", "yes_no", "country", "none")


@dataclass(frozen=True)
class QuickReply:
    title: str
    payload: str


@dataclass(frozen=True)
class ResourceCard:
    title: str
    body: str
    url: str | None = None
    phone_display: str | None = None
    phone_uri: str | None = None


@dataclass(frozen=True)
class Message:
    text: str
    quick_replies: tuple[QuickReply, ...] = ()
    expects: Expects = "none"
    resources: tuple[ResourceCard, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "quick_replies": [{"title": q.title, "payload": q.payload} for q in self.quick_replies],
            "expects": self.expects,
            "resources": [r.__dict__.copy() for r in self.resources],
        }


@dataclass(frozen=True)
class Inbound:
    """One thing the reporter sent: typed text, or the payload of a quick reply they chose.

    `message_id` is the provider's id for it, where the channel has one (a Telegram update, a WhatsApp
    message, a Twilio MessageSid): a provider redelivers what it thinks we did not take, and the
    dialog answers a redelivery as it answered the first time, moving the conversation on only once.
    """

    text: str | None = None
    payload: str | None = None
    message_id: str | None = None

    def __post_init__(self) -> None:
        if (self.text is None) == (self.payload is None):
            raise ValueError("an inbound message is either text or a payload")

    @property
    def value(self) -> str:
        return self.payload if self.payload is not None else (self.text or "")


@dataclass(frozen=True)
class ConversationKey:
    """Who is talking, before pseudonymization: never stored, only hashed (Keyring.pseudonym)."""

    channel: str
    sender: str

    def __post_init__(self) -> None:
        if not self.channel or not self.sender:
            raise ValueError("a conversation key needs both a channel and a sender id")


Status = Literal["open", "submitted", "closed"]


@dataclass(frozen=True)
class Turn:
    messages: list[Message]
    status: Status = "open"
    receipt: str | None = None
    locale: str = "en"

    def as_dict(self) -> dict[str, Any]:
        return {"messages": [m.as_dict() for m in self.messages], "status": self.status, "receipt": self.receipt,
                "locale": self.locale}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Turn:
        """A turn as `as_dict` wrote it (the answer kept for a redelivered inbound)."""
        return cls([message_from_dict(m) for m in data["messages"]], data["status"], data["receipt"], data["locale"])


def message_from_dict(data: dict[str, Any]) -> Message:
    expects = data.get("expects", "none")
    return Message(data["text"], tuple(QuickReply(q["title"], q["payload"]) for q in data.get("quick_replies", [])),
                   expects if expects in EXPECTS else "none",
                   tuple(ResourceCard(**r) for r in data.get("resources", [])))
