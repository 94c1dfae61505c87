"""The e-mail channel: an aiosmtpd server that turns each e-mail into a report, and a safe
auto-reply that can never become a relay or a mail loop.

It runs in the service's own event loop (started with `frontdoor serve`), so a message is in the
queue before the sending server hears "250": a 250 means stored. Parsing lives in `parse.py`; this
module is the SMTP conversation and the hand-over to the intake and the outbox. A keyed hash of the
Message-ID and the envelope sender is the submission's dedupe id, so a message the sender's server
delivers again (after a 451, or a lost 250) is answered 250 and stored once, and nobody else's
message can be suppressed by borrowing its Message-ID. The auto-reply goes through the outbox
(`replies.py` writes and sends it), at most one an hour to a sender, never to a robot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from ...keyring import Keyring
from ...outbox import Outbound, Outbox, Undeliverable
from ...reports.intake import ReportIntake
from ...settings import EmailSettings, HotlineSettings
from ...storage.client import UNAVAILABLE
from . import parse as mailparse
from .replies import ReplyWriter, send_through_relay

if TYPE_CHECKING:
    from ...prevention_content import Catalog

log = logging.getLogger(__name__)
CHANNEL = "email"
REPLY_ONCE_PER_S = 3600  # RFC 3834: do not answer the same sender more than once in a while
RETRY_LATER: tuple[type[BaseException], ...] = (*UNAVAILABLE, TimeoutError)  # answered 451, tried again later
TRY_AGAIN = "451 4.3.0 Temporarily unable to store the report; please try again later"


class EmailChannel:
    def __init__(self, intake: ReportIntake, outbox: Outbox, catalog: Catalog, keyring: Keyring,
                 settings: EmailSettings, hotline: HotlineSettings, *, timeout_s: float) -> None:
        self._intake = intake
        self._outbox = outbox
        self._keyring = keyring
        self._settings = settings
        self._timeout_s = timeout_s  # one message as a whole: the store and the reply's queueing
        self._addresses = {a.lower() for a in settings.addresses}
        self._replies = ReplyWriter(catalog, hotline, settings.addresses[0])
        links = [hotline.public_url, *catalog.resource_urls()]
        # A reply quoting our auto-reply must not report the helplines we recommended.
        self._own_hosts = frozenset(urlsplit(link).hostname or "" for link in links) - {""}

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return ()

    def running(self) -> AbstractAsyncContextManager[None]:
        return self._serving()

    async def deliver(self, message: Outbound) -> None:
        """The auto-reply, through the relay (the outbox calls this; a failure is retried from there)."""
        relay = self._settings.relay
        if relay is None:  # put while a relay was configured; it has been taken away since
            raise Undeliverable("no relay is configured (FRONTDOOR_SMTP_RELAY)")
        await asyncio.to_thread(send_through_relay, relay, self._replies.message(message))

    @contextlib.asynccontextmanager
    async def _serving(self) -> AsyncIterator[None]:
        settings = self._settings
        context = tls_context(settings)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(self, data_size_limit=settings.max_bytes, enable_SMTPUTF8=True,
                         hostname=settings.addresses[0].split("@", 1)[1], ident="frontdoor",
                         tls_context=context, require_starttls=False, loop=loop),
            host=settings.host, port=settings.port, reuse_port=settings.reuse_port or None)
        log.info("smtp listening on %s:%d", settings.host, settings.port)
        try:
            yield
        finally:
            server.close()
            await server.wait_closed()

    # -- aiosmtpd's handler hooks ---------------------------------------------------------

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address.lower() not in self._addresses:
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
            async with asyncio.timeout(self._timeout_s):
                await self._take(mail, envelope.mail_from or "")
        except RETRY_LATER:
            return TRY_AGAIN
        except Exception:  # never let one message crash the server; the sender will retry a 4xx
            log.exception("e-mail could not be stored")
            return TRY_AGAIN
        return "250 2.0.0 Report received"

    async def _take(self, mail: mailparse.ParsedMail, sender: str) -> None:
        """The report (once per Message-ID), then the reply (once an hour per sender, never a robot's)."""
        # The sender only inside the keyed hash: never stored, never a key of its own. "<>" is a bounce's.
        dedupe_id = self._intake.dedupe_key(CHANNEL, mail.message_id, sender.lower() or "<>") if mail.message_id else None
        accepted = await self._intake.submit(mailparse.submission(mail), CHANNEL, dedupe_id=dedupe_id)
        if accepted.duplicate:
            log.info("e-mail with a Message-ID and sender seen before: no second report")
            return
        if (self._settings.relay is None or mail.automated or sender in ("", "<>")
                or sender.lower() in self._addresses):  # no relay; a robot; or ourselves: a loop
            return
        body = {"receipt": accepted.receipt, "locale": mail.locale, "category": mail.category,
                "in_reply_to": mail.message_id or "", "omitted": mail.omitted.counts()}
        await self._outbox.put(CHANNEL, sender, [body], once=self._keyring.pseudonym("reply-to", sender.lower()),
                               once_ttl_s=REPLY_ONCE_PER_S)


def tls_context(settings: EmailSettings) -> ssl.SSLContext | None:
    if settings.tls_cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context
