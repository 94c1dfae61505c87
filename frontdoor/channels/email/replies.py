"""The auto-reply: what an e-mail reporter gets back (their receipt, what happens next, what of their
message did not fit into the report and how to send it, where to find help), written when the outbox
sends it and handed to the relay.

It goes out with an empty envelope sender (MAIL FROM:<>), so a bounce of the reply never comes back
as mail, and `Auto-Submitted: auto-replied` (RFC 3834), so other robots do not answer it. Its
Message-ID is made from the outbox entry's id, the same on every attempt: a relay that took an
attempt whose answer was lost receives the same message again, not a second one.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from ...dialog import i18n
from ...dialog.actions import resources_for
from ...outbox import DeliveryFailed, Outbound, Undeliverable
from ...settings import HotlineSettings
from .limits import MAX_DEPTH, MAX_DESCRIPTION_CHARS, MAX_PARTS, MAX_URLS

if TYPE_CHECKING:
    from ...prevention_content import Catalog

RELAY_TIMEOUT_S = 10.0
# How much of each kind a report keeps, as the reply names it (limits.Omitted's counts).
KEPT = {"links": MAX_URLS, "parts": MAX_PARTS, "nested_parts": MAX_DEPTH, "text_chars": MAX_DESCRIPTION_CHARS}


class ReplyWriter:
    def __init__(self, catalog: Catalog, hotline: HotlineSettings, from_address: str) -> None:
        self._catalog = catalog
        self._hotline = hotline
        self._from = from_address
        self._domain = from_address.split("@", 1)[1]

    def message(self, outbound: Outbound) -> EmailMessage:
        """The reply for an outbox entry put by the e-mail channel (receipt, locale, category, in_reply_to)."""
        job, hotline = outbound.body, self._hotline
        locale = job["locale"] if job.get("locale") in i18n.LOCALES else i18n.DEFAULT
        chosen = resources_for(self._catalog, path="report", role=None, category=job.get("category"),
                               topic=None, country=hotline.country, locale=locale)
        lines = [i18n.text(locale, "submitted", receipt=job["receipt"]), "", i18n.text(locale, "what_next"), "",
                 *self._omitted(locale, job.get("omitted") or {}), i18n.text(locale, "email.no_images"), ""]
        if chosen:
            lines += [i18n.text(locale, "resources_intro")]
            for r in chosen:
                lines.append(f"- {r.title}: " + " ".join(x for x in (r.url, r.phone_display) if x))
            lines.append("")
        lines += [i18n.text(locale, "email.chat_link", url=hotline.public_url), "", "-- ", hotline.name]
        message = EmailMessage()
        message["From"] = self._from
        message["To"] = outbound.recipient
        message["Subject"] = i18n.text(locale, "email.reply_subject", hotline=hotline.name, receipt=job["receipt"])
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = f"<reply.{outbound.id}@{self._domain}>"
        message["Auto-Submitted"] = "auto-replied"  # RFC 3834: other robots must not answer this
        if job.get("in_reply_to"):
            message["In-Reply-To"] = f"<{job['in_reply_to']}>"
            message["References"] = f"<{job['in_reply_to']}>"
        message.set_content("\n".join(lines))
        message["Content-Language"] = locale  # after set_content, which manages (and clears) Content-* headers
        return message


    def _omitted(self, locale: str, omitted: dict[str, int]) -> list[str]:
        """What the caps left out of the sender's message, and what they can do about it: the report
        holds what fitted, so the rest is only lost if nobody tells them."""
        lines = [i18n.text(locale, f"email.omitted.{name}", count=count, kept=KEPT.get(name, 0))
                 for name, count in omitted.items() if name in KEPT and count > 0]
        if not lines:
            return []
        return [*lines, i18n.text(locale, "email.omitted_next", url=urljoin(self._hotline.public_url, "report")), ""]


def send_through_relay(relay: tuple[str, int], message: EmailMessage) -> None:
    """One SMTP transaction with the relay (blocking: the outbox runs it in a thread). A 5xx answer is
    final, anything else may work later; the reason names the reply code, never the address."""
    try:
        with smtplib.SMTP(relay[0], relay[1], timeout=RELAY_TIMEOUT_S) as client:
            client.send_message(message, from_addr="")
    except smtplib.SMTPRecipientsRefused as exc:
        codes = sorted({code for code, _ in exc.recipients.values()})
        error = Undeliverable if all(c >= 500 for c in codes) else DeliveryFailed
        raise error(f"the relay refused the recipient ({', '.join(map(str, codes))})") from None
    except smtplib.SMTPResponseException as exc:
        error = Undeliverable if exc.smtp_code >= 500 else DeliveryFailed
        raise error(f"the relay answered {exc.smtp_code}") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"the relay could not be reached ({type(exc).__name__})") from None
