"""E-mail in, report fields out: reading an untrusted message without trusting any of it.

The e-mail channel (`server.py`) hands every message to `parse_mail` as aiosmtpd received it
(`envelope.original_content`: bytes, lines ending in CRLF, dot-unstuffed, nothing added).
Whatever those bytes are, the answer is a `ParsedMail` or a `MailRejected` carrying the SMTP
reply; nothing else escapes, and the work is linear in the message size. This module only puts
the steps together, each in a module of its own so that each defence can be read whole:

- `limits.py`: the caps, and the refusals before any parsing (size; bare CR or LF in headers);
- `mime.py`: the stdlib parser's reading, bounded in depth and parts, and the text of the parts;
- `headers.py`: subject, Message-ID, robots, and the sender's address and name, to strike them;
- `links.py`: the URLs to report; `clean.py`: text safe to store; `topic.py`: category and language.

Neither ParsedMail nor anything made from it holds the sender's address.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

from . import headers as mailheaders, limits, mime, topic as mailtopic
from .clean import clean_line, cut, tidy
from .limits import MAX_ATTACHMENTS_FIELD, MAX_BODY_CHARS, MAX_DESCRIPTION_CHARS, MAX_SUBJECT_CHARS, MailRejected, Omitted
from .limits import MAX_URL_CANDIDATES
from .links import accepted_urls, counted_url_candidates, without_urls

__all__ = ["EMPTY_DESCRIPTION", "MailRejected", "ParsedMail", "description", "parse_mail", "submission"]

log = logging.getLogger(__name__)

EMPTY_DESCRIPTION: Final = "(e-mail with no text and no link)"
INTERNAL_REPLY: Final = "554 5.6.0 The message could not be read"


@dataclass(frozen=True)
class ParsedMail:
    """What the channel needs from one e-mail; nothing in it names the sender."""

    message_id: str | None
    subject: str
    body_text: str
    urls: tuple[str, ...]
    attachments_dropped: int
    locale: str
    category: str
    automated: bool
    reply_language_hint: str | None
    omitted: Omitted = Omitted()  # what the caps left out of the text, links and parts above


def parse_mail(raw: bytes, *, envelope_from: str | None, own_hosts: frozenset[str] = frozenset()) -> ParsedMail:
    """`envelope_from` is the SMTP MAIL FROM ("<>" or "" for a bounce), None if unknown.

    Links to `own_hosts` (as `urls.parse` writes a host) are not reported: the hotline's own site
    and the resources its replies recommend come back quoted in replies to those replies.
    """
    raw = bytes(raw)
    limits.refuse_unreadable(raw)
    try:
        return _parse(raw, envelope_from, own_hosts)
    except MemoryError:
        raise MailRejected(451, "451 4.3.0 Temporarily unable to read the message; please try again later") from None
    except Exception as exc:  # the stdlib parser on hostile input: never crash the server, answer instead
        log.warning("e-mail could not be parsed: %s", type(exc).__name__)
        raise MailRejected(554, INTERNAL_REPLY) from None


def description(mail: ParsedMail, *, max_chars: int = MAX_DESCRIPTION_CHARS) -> str | None:
    """Subject and text for the report (not redacted here: build_report does that)."""
    text = _full_text(mail.subject, mail.body_text)
    return cut(text, max_chars) if text else None


def _full_text(subject: str, body: str) -> str:
    parts = [f"Subject: {subject}" if subject else "", body.strip()]
    return "\n\n".join(p for p in parts if p)


def submission(mail: ParsedMail, *, country_hint: str | None = None,
               default_region: str | None = None) -> dict[str, Any]:
    """The fields for frontdoor.report.build_report; pass the `default_region` given to it too.

    `default_region` is accepted for callers that pass build_report's; build_report itself keeps
    the redacted description within the stored report's 4000 characters.

    An e-mail with no text and no link still becomes a report (EMPTY_DESCRIPTION): the
    attachments it carried are counted on it and the reporter gets the channel's reply, rather
    than a bounce most people would not read.
    """
    country = (country_hint or "").strip().upper()
    country_or_none = country if len(country) == 2 and country.isascii() and country.isalpha() else None
    text = description(mail)  # at most 4000 characters; build_report cuts again after its redaction
    if text is None and not mail.urls:
        text = EMPTY_DESCRIPTION
    fields: dict[str, Any] = {
        "category": mail.category,
        "urls": list(mail.urls),
        "description": text,
        "locale": mail.locale,
        "attachments_dropped": min(mail.attachments_dropped, MAX_ATTACHMENTS_FIELD),
        "where_seen": None,
        "reporter_role": "unknown",
        "reporter_country": country_or_none,
        "child_in_immediate_danger": False,
    }
    if mail.omitted.counts():
        fields["omitted"] = mail.omitted.counts()
    return fields


def _cut_chars(text: str, max_chars: int) -> int:
    """How many characters of `text` clean.cut leaves out (it keeps max_chars - 1 and an ellipsis)."""
    return len(text) - (max_chars - 1) if len(text) > max_chars else 0


def _parse(raw: bytes, envelope_from: str | None, own_hosts: frozenset[str]) -> ParsedMail:
    msg = mime.read_message(raw)
    headers = mailheaders.index_headers(msg)
    reading = mime.Reading()
    subject = clean_line(mailheaders.first(headers, "subject") or "")
    body = tidy(mime.read_text(msg, reading))
    cut_chars = reading.cut_chars + max(len(body) - MAX_BODY_CHARS, 0)
    body = body[:MAX_BODY_CHARS]

    addresses, names = mailheaders.sender_identity(headers, envelope_from)
    subject = mailheaders.remove_sender(subject, addresses, names)
    cut_chars += _cut_chars(subject, MAX_SUBJECT_CHARS)
    subject = cut(subject, MAX_SUBJECT_CHARS)
    body = mailheaders.remove_sender(body, addresses, names)
    prose = without_urls(f"{subject}\n{body}")

    content_language = clean_line(mailheaders.first(headers, "content-language") or "")[:100] or None
    subject_links, subject_not_examined = counted_url_candidates(subject, MAX_URL_CANDIDATES)
    kept, more_links = accepted_urls(subject_links + reading.candidates, addresses, own_hosts)
    omitted = Omitted(links=more_links + subject_not_examined + reading.links_not_examined,
                      parts=reading.unread_parts, nested_parts=reading.too_deep,
                      text_chars=cut_chars + _cut_chars(_full_text(subject, body), MAX_DESCRIPTION_CHARS))
    return ParsedMail(
        message_id=mailheaders.message_id(headers.get("message-id")),
        subject=subject,
        body_text=body,
        urls=kept,
        attachments_dropped=reading.dropped,
        locale=mailtopic.locale(content_language, mailheaders.first(headers, "accept-language"), prose),
        category=mailtopic.category(prose),
        automated=mailheaders.automated(headers, reading.content_type or msg.get_content_type(), envelope_from),
        reply_language_hint=content_language,
        omitted=omitted,
    )
