"""What the headers of an e-mail tell the channel, and what of them must not be kept.

Only a handful of headers matter: the subject, the Message-ID (the dedupe key and the reply's
In-Reply-To), the language, the marks of a robot (never to be answered, RFC 3834) and the
sender's address and name. The last are read only so that they can be removed: no report holds
who sent it, so the address and display name are struck from the subject, text and links here,
where the headers naming them are at hand.
"""

from __future__ import annotations

import hashlib
import re
from email.message import Message
from typing import Final

from . import decode as maildecode
from ...reports.redaction import EMAIL_MARK
from .clean import SURROGATE_RE, clean_line
from .limits import HEADER_CHARS, MAX_MESSAGE_ID_CHARS, MAX_SAME_HEADER

__all__ = ["NAME_MARK", "automated", "first", "header_text", "index_headers", "message_id", "remove_sender",
           "sender_identity", "visible"]

NAME_MARK: Final = "[name removed]"

Headers = dict[str, list[str]]

_WANTED_HEADERS: Final = frozenset({
    "subject", "message-id", "from", "reply-to", "sender", "return-path", "content-language", "accept-language",
    "auto-submitted", "precedence", "list-id", "list-unsubscribe", "list-post", "x-autoreply", "x-autorespond",
    "x-failed-recipients",
})
FOLD_RE: Final = re.compile(r"\r?\n(?=[ \t])")
_ANGLED_RE: Final = re.compile(r"<([^<>]*)>")
_ADDRESS_RE: Final = re.compile(r"[^\s<>()\[\],;:\"@]{1,64}@[^\s<>()\[\],;:\"@]{1,255}")


def index_headers(msg: Message) -> Headers:
    """The headers read here, by lower-cased name, in one pass (`Message.get` scans all of
    them on every call), at most MAX_SAME_HEADER values of a name."""
    index: Headers = {}
    for name, value in msg.items():
        key = name.strip().lower()
        if key in _WANTED_HEADERS:
            values = index.setdefault(key, [])
            if len(values) < MAX_SAME_HEADER:
                values.append(str(value)[:HEADER_CHARS])
    return index


def first(headers: Headers, name: str) -> str | None:
    """The first `name` header as text, as Message.get would find it."""
    values = headers.get(name)
    return header_text(values[0]) if values else None


def header_text(value: str) -> str:
    """A raw header value as text: raw 8-bit bytes and RFC 2047 words decoded, folds unfolded."""
    if value.isascii() and "=?" not in value and "\n" not in value:
        return value  # nothing below would change it: no 8-bit bytes, no encoded word, no fold
    if SURROGATE_RE.search(value):  # raw 8-bit bytes: UTF-8 (RFC 6532) or a legacy charset
        value = maildecode.decode_bytes(maildecode.raw_bytes(value), None)
    return maildecode.decode_encoded_words(FOLD_RE.sub("", value))


def message_id(values: list[str] | None) -> str | None:
    """The Message-ID without its brackets, fit for the reply's In-Reply-To; a long one is hashed."""
    if not values:
        return None
    text = values[0]
    if SURROGATE_RE.search(text):
        text = maildecode.decode_bytes(maildecode.raw_bytes(text), None)
    m = _ANGLED_RE.search(text)
    core = "".join((m.group(1) if m else text).split()).strip("<>")
    if not core:
        return None
    core = visible(core)
    if len(core) > MAX_MESSAGE_ID_CHARS:
        core = core[:200] + "#" + hashlib.sha256(core.encode()).hexdigest()[:40]
    return core


def visible(text: str) -> str:
    """For the reply's In-Reply-To header: visible ASCII only, the rest %-escaped."""
    if text.isascii() and text.isprintable() and not any(ch in text for ch in " <>%"):
        return text  # nothing to escape: the usual Message-ID
    return "".join(ch if "!" <= ch <= "~" and ch not in "<>%" else percent(ch) for ch in text)


def percent(ch: str) -> str:
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8", "replace"))


def sender_identity(headers: Headers, envelope_from: str | None) -> tuple[list[str], list[str]]:
    """The sender's addresses and display names, longest first (so a longer one is struck whole)."""
    addresses: list[str] = []
    names: list[str] = []
    for header in ("from", "reply-to", "sender", "return-path"):
        for value in headers.get(header, []):
            text = clean_line(header_text(value))
            addresses += _ADDRESS_RE.findall(text)[:5]
            for entry in text.split(",")[:5]:
                name = entry.partition("<")[0].strip().strip("\"' ")
                if "@" not in name and len(name) >= 4 and any(ch.isalpha() for ch in name):
                    names.append(name)
    if envelope_from:
        addresses += _ADDRESS_RE.findall(envelope_from)[:1]
    addresses = sorted({a.rstrip(".").lower() for a in addresses if a.rstrip(".")}, key=len, reverse=True)
    return addresses, sorted(set(names), key=len, reverse=True)


def remove_sender(text: str, addresses: list[str], names: list[str]) -> str:
    lowered = text.lower()
    variants = [v for a in addresses for v in (a, a.replace("@", "%40")) if v in lowered]
    if variants:
        text = re.sub("|".join(re.escape(v) for v in variants), EMAIL_MARK, text, flags=re.IGNORECASE)
    names = [n for n in names if n.lower() in lowered]
    if names:
        pattern = r"(?<!\w)(?:" + "|".join(re.escape(n) for n in names) + r")(?!\w)"
        text = re.sub(pattern, NAME_MARK, text, flags=re.IGNORECASE)
    return text


def automated(headers: Headers, content_type: str, envelope_from: str | None) -> bool:
    """An auto-reply, bounce or list message: the channel must never answer it (RFC 3834)."""
    auto_submitted = (first(headers, "auto-submitted") or "").partition(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return True
    if (first(headers, "precedence") or "").strip().lower() in ("bulk", "list", "junk", "auto_reply"):
        return True
    if any(name in headers for name in ("list-id", "list-unsubscribe", "list-post", "x-autoreply",
                                        "x-autorespond", "x-failed-recipients")):
        return True
    return_path = first(headers, "return-path")  # written by a relay in front of us, if any
    if any(path is not None and path.strip() in ("", "<>") for path in (envelope_from, return_path)):
        return True
    sender = (first(headers, "from") or "").lower()
    return "mailer-daemon@" in sender or content_type == "multipart/report"
