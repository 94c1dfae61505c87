"""The e-mail channel: an aiosmtpd server that turns each e-mail into a report, and a safe
auto-reply that can never become a relay or a mail loop.

It runs in the service's own event loop (started with `frontdoor serve`), so a message is in
the queue before the sending server hears "250". Parsing lives in `frontdoor.channels.email.parse`;
this module is the SMTP conversation, de-duplication by Message-ID, and the reply outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import smtplib
import ssl
import time
from collections.abc import AsyncIterator
from email._header_value_parser import get_addr_spec, get_angle_addr
from email.errors import HeaderParseError
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import urlsplit

from aiosmtpd.smtp import SMTP, Envelope, Session

from . import parse as mailparse
from ...http.deadlines import Deadlines
from ...dialog import i18n
from ...dialog.actions import resources_for
from ...queue import AlreadySubmitted
from ...storage import keys
from ...storage.client import UNAVAILABLE
from ...reports.build import build_report

log = logging.getLogger(__name__)
CHANNEL = "email"
DEDUPE_TTL_S = 30 * 86400     # a Message-ID redelivered within a month is the same report
REPLY_TTL_S = 3 * 86400       # an undeliverable reply (and the address it holds, encrypted) is gone after this
REPLY_ONCE_PER_S = 3600       # RFC 3834: do not answer the same sender more than once in a while
MAX_ATTEMPTS = 8
OUTBOX_POLL_S = 1.0
RETRY_LATER: tuple[type[BaseException], ...] = (*UNAVAILABLE, TimeoutError)  # answered 451, tried again later


# A plain path as MAIL FROM and RCPT TO carry it: <dot-atom@dot-atom> in RFC 5322's ASCII atext.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_PATH_RE = re.compile(rf"<({_ATEXT}(?:\.{_ATEXT})*@{_ATEXT}(?:\.{_ATEXT})*)>")


class ReportSMTP(SMTP):
    """aiosmtpd's SMTP server, with the address of MAIL and RCPT parsed more cheaply.

    aiosmtpd 1.4.6's `_getaddr` defines a `typing.Protocol` class on every call, for a type
    annotation, and then runs the stdlib's RFC 5322 address parser (email._header_value_parser),
    which builds a token tree for "<someone@example.org>": together about a third of a whole SMTP
    conversation's CPU here. This is the same method without the class, and with a plain path
    (`_PLAIN_PATH_RE`, no comments, quoting, encoded words or 8-bit) read by a regular expression;
    anything else goes to the same stdlib calls. tests/test_email.py holds it to aiosmtpd's own
    answers, exceptions included, on generated and hostile input.
    """

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        if not arg:
            return "", ""
        plain = _PLAIN_PATH_RE.match(arg)
        if plain is not None and "=?" not in plain.group(1):  # "=?" may begin an RFC 2047 word the parser decodes
            rest = arg[plain.end():]
            if rest[:1] in (" ", "\t"):  # the parser takes the whitespace after ">" (and comments: not here)
                rest = rest.lstrip()
            if not rest.startswith("("):
                return self._within_limit(plain.group(1), rest)
        address: Any  # an AngleAddr or an AddrSpec token: both have addr_spec
        try:
            if arg.lstrip().startswith("<"):
                address, rest = get_angle_addr(arg)
            else:
                address, rest = get_addr_spec(arg)
        except HeaderParseError:
            return None, None
        return self._within_limit(address.addr_spec, rest)

    def _within_limit(self, addr: str, rest: str) -> tuple[str | None, str | None]:
        localpart = addr.rpartition("@")[0]
        if self.local_part_limit and len(localpart) > self.local_part_limit:
            return None, None
        return addr, rest


class ReportHandler:
    """aiosmtpd handler: accept mail for the report addresses only, make each message a report."""

    def __init__(self, services: Any) -> None:
        self.services = services
        self.addresses = {a.lower() for a in services.settings.report_addresses}
        self._deadlines = Deadlines(services.settings.request_timeout_s)  # one timer, not one per message
        catalog = services.dialog.services.catalog
        links = [services.settings.public_url, *catalog.resource_urls()]
        # A reply quoting our auto-reply must not report the helplines we recommended.
        self._own_hosts = frozenset(urlsplit(link).hostname or "" for link in links) - {""}

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address.lower() not in self.addresses:
            return "550 5.7.1 Relaying denied: this server only accepts reports for its own report addresses"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        try:
            mail = mailparse.parse_mail(raw, envelope_from=envelope.mail_from, own_hosts=self._own_hosts)
        except mailparse.MailRejected as exc:
            log.info("e-mail refused: %s", exc.smtp_code)
            return exc.reply
        try:
            # The Redis client has no per-command timeout: bound the whole message instead.
            async with self._deadlines.bound():
                receipt = await self._store(mail)
                sender = envelope.mail_from or ""
                if receipt is not None and not mail.automated and sender not in ("", "<>"):
                    await self._queue_reply(mail, sender, receipt)
        except RETRY_LATER:
            return "451 4.3.0 Temporarily unable to store the report; please try again later"
        except Exception:  # never let one message crash the server; the sender will retry a 4xx
            log.exception("e-mail could not be stored")
            return "451 4.3.0 Temporarily unable to store the report; please try again later"
        return "250 2.0.0 Report received"

    async def _store(self, mail: mailparse.ParsedMail) -> str | None:
        """The report's receipt, or None when this Message-ID was already made into a report.

        The Message-ID is checked and remembered by the queue's submit script, with the report:
        one round trip, and a message whose submit failed leaves nothing behind, so the sender's
        retry becomes the report.
        """
        svc = self.services
        dedupe_id = svc.keyring.pseudonym("message-id", mail.message_id) if mail.message_id else None

        def home_shard(value: str) -> int:
            # build_report asks with the first URL, or with a random value when there is none; a
            # redelivery must meet its Message-ID again, so without URLs that decides the shard.
            return svc.queue.shard_of_url(value if mail.urls or dedupe_id is None else dedupe_id)

        region = svc.settings.hotline_country
        report = build_report(mailparse.submission(mail, default_region=region), channel=CHANNEL, keyring=svc.keyring,
                              shard_of_url=home_shard, default_region=region)
        try:
            submitted = await svc.queue.submit(report, dedupe_id=dedupe_id, dedupe_ttl_s=DEDUPE_TTL_S)
        except AlreadySubmitted:
            log.info("e-mail with a Message-ID seen before: no second report")
            return None
        return submitted.receipt

    async def _queue_reply(self, mail: mailparse.ParsedMail, sender: str, receipt: str) -> None:
        svc = self.services
        if svc.settings.smtp_relay is None or sender.lower() in self.addresses:
            return  # no relay configured; or mail from ourselves: never answer it (a loop)
        once = keys.mail_replied(svc.keyring.pseudonym("reply-to", sender.lower()))
        if not await svc.redis.set(once, "1", nx=True, ex=REPLY_ONCE_PER_S):
            return
        job = {"to": svc.keyring.encrypt(sender), "receipt": receipt, "locale": mail.locale, "category": mail.category,
               "in_reply_to": mail.message_id or "", "attempts": 0}
        job_id = make_msgid(domain="outbox.invalid")[1:-1]
        pipe = svc.redis.pipeline(transaction=False)
        pipe.set(keys.outbox_job(job_id), json.dumps(job), ex=REPLY_TTL_S)
        pipe.zadd(keys.OUTBOX_DUE, {job_id: time.time()})
        await pipe.execute()


def reply_message(services: Any, job: dict[str, Any], to: str) -> EmailMessage:
    settings, locale = services.settings, job["locale"]
    chosen = resources_for(services.dialog.services.catalog, path="report", role=None, category=job["category"],
                           topic=None, country=settings.hotline_country, locale=locale)
    lines = [i18n.text(locale, "submitted", receipt=job["receipt"]), "", i18n.text(locale, "what_next"), "",
             i18n.text(locale, "email.no_images"), ""]
    if chosen:
        lines += [i18n.text(locale, "resources_intro")]
        for r in chosen:
            lines.append(f"- {r.title}: " + " ".join(x for x in (r.url, r.phone_display) if x))
        lines.append("")
    lines += [i18n.text(locale, "email.chat_link", url=settings.public_url), "", "-- ", settings.hotline_name]
    message = EmailMessage()
    message["From"] = settings.report_addresses[0]
    message["To"] = to
    message["Subject"] = i18n.text(locale, "email.reply_subject", receipt=job["receipt"])
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.report_addresses[0].split("@", 1)[1])
    message["Auto-Submitted"] = "auto-replied"  # RFC 3834: other robots must not answer this
    if job.get("in_reply_to"):
        message["In-Reply-To"] = f"<{job['in_reply_to']}>"
        message["References"] = f"<{job['in_reply_to']}>"
    message.set_content("\n".join(lines))
    message["Content-Language"] = locale  # after set_content, which manages (and clears) Content-* headers
    return message


async def send_due_replies(services: Any, *, now: float | None = None) -> int:
    """Send the replies that are due; failures are retried with exponential backoff."""
    redis, settings = services.redis, services.settings
    now = time.time() if now is None else now
    sent = 0
    for job_id in await redis.zrangebyscore(keys.OUTBOX_DUE, "-inf", now, start=0, num=20):
        if not await redis.zrem(keys.OUTBOX_DUE, job_id):
            continue  # another process took it
        raw = await redis.get(keys.outbox_job(job_id))
        if raw is None:
            continue
        job = json.loads(raw)
        to = services.keyring.decrypt(job["to"])
        if to is None or settings.smtp_relay is None:
            await redis.delete(keys.outbox_job(job_id))
            continue
        try:
            await asyncio.to_thread(_send, settings.smtp_relay, reply_message(services, job, to))
        except (OSError, smtplib.SMTPException) as exc:
            job["attempts"] += 1
            if job["attempts"] >= MAX_ATTEMPTS:
                log.warning("auto-reply given up after %d attempts: %s", job["attempts"], type(exc).__name__)
                await redis.delete(keys.outbox_job(job_id))
                continue
            delay = min(30 * 2 ** (job["attempts"] - 1), 3600)
            pipe = redis.pipeline(transaction=False)
            pipe.set(keys.outbox_job(job_id), json.dumps(job), keepttl=True)
            pipe.zadd(keys.OUTBOX_DUE, {job_id: now + delay})
            await pipe.execute()
            log.info("auto-reply failed (%s); retry in %d s", type(exc).__name__, delay)
            continue
        await redis.delete(keys.outbox_job(job_id))  # and with it the encrypted address
        sent += 1
    return sent


def _send(relay: tuple[str, int], message: EmailMessage) -> None:
    # The empty envelope sender (MAIL FROM:<>) means a bounce of this reply never comes back as mail.
    with smtplib.SMTP(relay[0], relay[1], timeout=10) as client:
        client.send_message(message, from_addr="")


def tls_context(settings: Any) -> ssl.SSLContext | None:
    if settings.smtp_tls_cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.smtp_tls_cert, settings.smtp_tls_key)
    return context


async def smtp_channel(services: Any) -> AsyncIterator[None]:
    """cleanup_ctx: the SMTP server and the reply sender, in the service's loop."""
    settings = services.settings
    handler = ReportHandler(services)
    context = tls_context(settings)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: ReportSMTP(handler, data_size_limit=settings.smtp_max_bytes, enable_SMTPUTF8=True,
                     hostname=settings.report_addresses[0].split("@", 1)[1], ident="frontdoor",
                     tls_context=context, require_starttls=False, loop=loop),
        host=settings.smtp_host, port=settings.smtp_port)
    log.info("smtp listening on %s:%d", settings.smtp_host, settings.smtp_port)
    sender = asyncio.create_task(_outbox_loop(services))
    try:
        yield
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        server.close()
        await server.wait_closed()


async def _outbox_loop(services: Any) -> None:
    while True:
        try:
            async with asyncio.timeout(60):  # a hung Redis or relay must not stop the outbox for good
                await send_due_replies(services)
        except RETRY_LATER:
            log.warning("reply outbox: redis unavailable")
        except Exception:  # the outbox must keep running; the job stays due and is retried
            log.exception("reply outbox failed")
        await asyncio.sleep(OUTBOX_POLL_S)
