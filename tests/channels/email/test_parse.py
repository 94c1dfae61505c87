"""mailparse: every field, the safety rules, the corpus of broken mail, and random input."""

from __future__ import annotations

import asyncio
import base64
import re
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from frontdoor.channels.email import clean as mailclean, decode as maildecode, headers as mailheaders
from frontdoor.channels.email import limits, links as maillinks, mime, parse as mailparse
from frontdoor.reports import urls
from frontdoor.errors import FrontdoorError
from frontdoor.keyring import Keyring
from frontdoor.channels.email.limits import Omitted
from frontdoor.channels.email.parse import EMPTY_DESCRIPTION, MailRejected, ParsedMail, description, parse_mail, submission
from frontdoor.reports.build import REPORT_SCHEMA, SUBMISSION_SCHEMA, build_report, check

CORPUS = Path(__file__).parent / "corpus"
KEYRING = Keyring(b"mailparse-test-secret-" + b"m" * 32)
SENDER = "sender@example.org"


def eml(body: str = "Please check https://www.example.com/page\n", *, subject: str | None = "A report",
        content_type: str | None = "text/plain; charset=utf-8", headers: str = "", message_id: str | None = "<m1@mail.example.org>",
        sender: str = f"Sam Sender <{SENDER}>") -> bytes:
    """A message as aiosmtpd hands it over: CRLF line ends. `headers` are extra header lines."""
    head = f"From: {sender}\nTo: report@hotline.example.com\n"
    head += f"Message-ID: {message_id}\n" if message_id is not None else ""
    head += f"Subject: {subject}\n" if subject is not None else ""
    head += f"Content-Type: {content_type}\n" if content_type is not None else ""
    head += "".join(line + "\n" for line in headers.splitlines() if line)
    return (head + "\n" + body).replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def parse(raw: bytes, envelope_from: str | None = SENDER) -> ParsedMail:
    return parse_mail(raw, envelope_from=envelope_from)


def multipart(*parts: tuple[str, str], subtype: str = "mixed", **kwargs: Any) -> bytes:
    """`parts` are (part headers, part body)."""
    body = "".join(f"--b0\n{head.strip()}\n\n{text}\n" for head, text in parts) + "--b0--\n"
    return eml(body, content_type=f'multipart/{subtype}; boundary="b0"', **kwargs)


def build(mail: ParsedMail, **kwargs: Any) -> dict[str, Any]:
    return build_report(submission(mail, **kwargs), channel="email", keyring=KEYRING, shard_of_url=lambda u: 0)


def assert_storable(mail: ParsedMail) -> None:
    """Every string encodes as UTF-8 (no lone surrogates), the submission is valid and builds."""
    for value in (mail.message_id, mail.subject, mail.body_text, mail.locale, mail.category, mail.reply_language_hint,
                  *mail.urls, description(mail)):
        if value is not None:
            value.encode("utf-8")
    fields = submission(mail)
    check(SUBMISSION_SCHEMA, fields)
    check(REPORT_SCHEMA, build_report(fields, channel="email", keyring=KEYRING, shard_of_url=lambda u: 0))


# --- simple messages, field by field ---------------------------------------------------


def test_plain_message() -> None:
    mail = parse(eml("Hello, I found this page:\nhttps://www.example.com/gallery/123?utm_source=x\n\nThanks\n"))
    assert mail == ParsedMail(
        message_id="m1@mail.example.org", subject="A report",
        body_text="Hello, I found this page:\nhttps://www.example.com/gallery/123?utm_source=x\n\nThanks",
        urls=("https://www.example.com/gallery/123?utm_source=x",), attachments_dropped=0, locale="en",
        category="other", automated=False, reply_language_hint=None)


def test_html_only_keeps_link_targets_and_drops_scripts() -> None:
    html = ('<html><head><title>Page title</title><style>p {color: red}</style></head><body>'
            '<p>See <a href="https://www.example.com/a?x=1&amp;y=2">this page</a> &amp; '
            '<a href="https://www.example.com/b">https://www.example.com/b</a></p>'
            '<script>var u = "https://script.example.com/x";</script><img src="https://img.example.com/i.png" alt="alt">'
            '<a href="javascript:void(0)">js</a><!-- https://comment.example.com/ --></body></html>')
    mail = parse(eml(html, content_type="text/html; charset=utf-8"))
    assert mail.body_text == "See this page (https://www.example.com/a?x=1&y=2) & https://www.example.com/b\njs"
    assert mail.urls == ("https://www.example.com/a?x=1&y=2", "https://www.example.com/b")


def test_multipart_alternative_prefers_plain_text_and_reads_links_from_both() -> None:
    mail = parse(multipart(("Content-Type: text/plain; charset=utf-8", "Plain version https://www.example.com/a"),
                           ("Content-Type: text/html; charset=utf-8",
                            '<p>HTML version <a href="https://www.example.com/a">a</a> <a href="https://other.example.net/">b</a></p>'),
                           subtype="alternative"))
    assert mail.body_text == "Plain version https://www.example.com/a"
    assert mail.urls == ("https://www.example.com/a", "https://other.example.net/")


def test_alternative_with_an_empty_plain_part_falls_back_to_html() -> None:
    mail = parse(multipart(("Content-Type: text/plain", "  "), ("Content-Type: text/html", "<p>Only <b>here</b></p>"),
                           subtype="alternative"))
    assert mail.body_text == "Only here"


def test_quoted_printable_and_base64_bodies() -> None:
    qp = parse(eml("Voil=C3=A0 le lien : https://www.example.com/very/long/pa=\nth?id=3D7\n",
                   headers="Content-Transfer-Encoding: quoted-printable"))
    assert qp.body_text == "Voilà le lien : https://www.example.com/very/long/path?id=7"
    assert qp.urls == ("https://www.example.com/very/long/path?id=7",)
    encoded = base64.encodebytes("Grüße https://www.example.com/b64\n".encode()).decode()
    b64 = parse(eml(encoded, headers="Content-Transfer-Encoding: base64"))
    assert b64.body_text == "Grüße https://www.example.com/b64"


def test_base64_with_garbage_reads_what_it_can() -> None:
    body = base64.b64encode(b"readable https://www.example.com/x ").decode() + "!!!%%%\n=garbage=\n"
    mail = parse(eml(body, headers="Content-Transfer-Encoding: base64"))
    assert mail.body_text.startswith("readable https://www.example.com/x")
    assert mail.urls == ("https://www.example.com/x",)


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("=?utf-8?q?Meldung_=C3=BCber_eine_Seite?=", "Meldung über eine Seite"),
        ("=?UTF-8?B?TWVsZHVuZyDDvGJlcg==?= =?utf-8?q?_eine_Seite?=", "Meldung über eine Seite"),
        ("=?iso-8859-1?q?Signalement_d'une_page_=E0_v=E9rifier?=", "Signalement d'une page à vérifier"),
        ("=?utf-8?b?w6k=?==?utf-8?b?w6k=?=", "éé"),
        ("=?utf-8?b?ww==?= =?utf-8?b?qQ==?=", "é"),  # one character split across two encoded words
        ("Re: =?x-unknown?q?caf=C3=A9?= ok", "Re: café ok"),
        ("=?utf-8?q?bad_=ZZ_escape?=", "bad =ZZ escape"),
        ("plain   subject\twith  spaces", "plain subject with spaces"),
    ],
)
def test_rfc2047_subjects(subject: str, expected: str) -> None:
    assert parse(eml(subject=subject)).subject == expected


def test_folded_subject_and_subject_length() -> None:
    assert parse(eml(subject="first line\n second line")).subject == "first line second line"
    long = parse(eml(subject="word " * 200))
    assert len(long.subject) == 300 and long.subject.endswith("…")


def test_raw_8bit_headers_are_decoded_utf8_first_then_latin1() -> None:
    raw = eml(subject="PLACEHOLDER").replace(b"PLACEHOLDER", "Grüße".encode("utf-8"))
    assert parse(raw).subject == "Grüße"
    raw = eml(subject="PLACEHOLDER").replace(b"PLACEHOLDER", "café".encode("latin-1"))
    assert parse(raw).subject == "café"


@pytest.mark.parametrize(
    ("headers", "body", "locale", "hint"),
    [
        ("Content-Language: de", "Please check this.", "de", "de"),
        ("Content-Language: fr-FR", "", "fr", "fr-FR"),
        ("Content-Language: es, de;q=0.5", "", "de", "es, de;q=0.5"),
        ("Content-Language: es", "Bonjour, je vous signale une page que j'ai trouvée sur un site.", "fr", "es"),
        ("Accept-Language: de-CH, en;q=0.5", "", "de", None),
        ("", "Bonjour, je vous signale une page que j'ai trouvée. Merci de vérifier.", "fr", None),
        ("", "Hallo, ich habe diese Seite gefunden. Bitte prüfen Sie das, danke.", "de", None),
        ("", "Hello, this is the page I found and I would like you to check it.", "en", None),
        ("", "https://www.example.com/die/der/das/und", "en", None),  # words in URLs are not language
        ("", "ok", "en", None),
    ],
)
def test_locale_from_header_or_text(headers: str, body: str, locale: str, hint: str | None) -> None:
    mail = parse(eml(body, subject="x", headers=headers))
    assert (mail.locale, mail.reply_language_hint) == (locale, hint)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("I want to report child sexual abuse material on this page", "csam"),
        ("Auf der Seite sind Missbrauchsdarstellungen", "csam"),
        ("Ce site montre du contenu pédocriminel", "csam"),
        ("Someone is grooming children in this chat", "grooming"),
        ("Das ist Cybergrooming in einem Spiel", "grooming"),
        ("Un cas de pédopiégeage sur un jeu en ligne", "grooming"),
        ("He is threatening to share my photos", "sextortion"),
        ("Es geht um Erpressung mit Bildern", "sextortion"),
        ("C'est du chantage avec des photos", "sextortion"),
        ("A nude selfie of me was shared", "self_generated"),
        ("Jemand hat Nacktbilder von mir geteilt", "self_generated"),
        ("Quelqu'un a partagé un selfie nu", "self_generated"),
        ("This looks like trafficking of minors", "trafficking"),
        ("Verdacht auf Menschenhandel", "trafficking"),
        ("Il s'agit de traite des êtres humains", "trafficking"),
        ("I found a page that worries me", "other"),
        ("Our dog grooming salon page was copied", "other"),
        ("He is threatening to share a nude selfie of me", "other"),  # two categories: not clear
    ],
)
def test_category(text: str, category: str) -> None:
    assert parse(eml(text, subject="Report")).category == category


def test_category_read_from_the_subject_but_not_from_urls() -> None:
    assert parse(eml("see link", subject="Sextortion")).category == "sextortion"
    assert parse(eml("https://grooming.example.com/trafficking")).category == "other"


# --- attachments -----------------------------------------------------------------------


def test_attachments_are_counted_never_read(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[bytes] = []
    real = mime.body_bytes

    def recording(part: Any) -> tuple[bytes, bool]:
        data, cut = real(part)
        decoded.append(data)
        return data, cut

    monkeypatch.setattr(mime, "body_bytes", recording)
    blob = base64.b64encode(b"PLACEHOLDER BLOB").decode()
    mail = parse(multipart(
        ("Content-Type: text/plain", "Body text https://www.example.com/body"),
        ('Content-Type: text/plain; name="a.txt"\nContent-Disposition: attachment; filename="a.txt"',
         "https://attachment.example.com/1"),
        ('Content-Type: text/html\nContent-Disposition: inline; filename="b.html"', '<a href="https://attachment.example.com/2">x</a>'),
        ("Content-Type: image/png\nContent-Transfer-Encoding: base64", blob),
        ("Content-Type: application/pdf", "https://attachment.example.com/3"),
        ('Content-Type: message/rfc822\nContent-Disposition: attachment; filename="m.eml"',
         "Subject: inner\n\nhttps://attachment.example.com/4"),
    ))
    assert mail.attachments_dropped == 5
    assert mail.urls == ("https://www.example.com/body",)
    assert "attachment.example.com" not in mail.body_text + str(submission(mail))
    assert decoded == [b"Body text https://www.example.com/body"]


def test_attachment_only_message_is_a_report_with_the_placeholder() -> None:
    mail = parse(multipart(('Content-Type: application/octet-stream\nContent-Disposition: attachment; filename="x.bin"', "AAAA"),
                           subject=None))
    assert (mail.attachments_dropped, mail.body_text, mail.urls) == (1, "", ())
    fields = submission(mail)
    assert fields["description"] == EMPTY_DESCRIPTION and fields["attachments_dropped"] == 1
    assert build(mail)["attachments_dropped"] == 1


def test_attachment_count_is_capped_for_the_schema() -> None:
    mail = ParsedMail(None, "s", "", (), 5000, "en", "other", False, None)
    assert submission(mail)["attachments_dropped"] == 1000


def test_inline_forwarded_message_is_read() -> None:
    mail = parse(multipart(("Content-Type: message/rfc822", "From: other@example.net\nSubject: inner\n\nInner https://www.example.com/fwd")))
    assert mail.body_text == "Inner https://www.example.com/fwd"
    assert mail.attachments_dropped == 0


# --- automated mail --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "envelope_from", "automated"),
    [
        ("", SENDER, False),
        ("", None, False),
        ("Auto-Submitted: auto-replied", SENDER, True),
        ("Auto-Submitted: auto-generated; owner-email=x@example.org", SENDER, True),
        ("Auto-Submitted: no", SENDER, False),
        ("Precedence: bulk", SENDER, True),
        ("Precedence: list", SENDER, True),
        ("Precedence: junk", SENDER, True),
        ("Precedence: first-class", SENDER, False),
        ("List-Id: <discuss.lists.example.org>", SENDER, True),
        ("List-Unsubscribe: <https://lists.example.org/u>", SENDER, True),
        ("X-Autoreply: yes", SENDER, True),
        ("X-Autorespond: yes", SENDER, True),
        ("", "", True),
        ("", "<>", True),
        ("Return-Path: <>", SENDER, True),
    ],
)
def test_automated(headers: str, envelope_from: str | None, automated: bool) -> None:
    assert parse(eml(headers=headers), envelope_from=envelope_from).automated is automated


def test_bounces_are_automated() -> None:
    report = multipart(("Content-Type: text/plain", "Delivery failed"), ("Content-Type: message/delivery-status", "Action: failed"),
                       subtype="report")
    assert parse(report).automated
    assert parse(eml(sender="Mail Delivery System <MAILER-DAEMON@mx.example.net>")).automated


# --- Message-ID ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<a@b.example>", "a@b.example"),
        (" <a@b.example> ", "a@b.example"),
        ("a@b.example", "a@b.example"),
        ("<a@b.example> (comment)", "a@b.example"),
        ("\n <a@b.example>", "a@b.example"),
        ("<>", None),
        ("", None),
        ("<a b@c>", "ab@c"),
        ("<ä@b.example>", "%C3%A4@b.example"),
        ("<a%41@b>", "a%2541@b"),
    ],
)
def test_message_id_normalization(value: str, expected: str | None) -> None:
    assert parse(eml(message_id=value)).message_id == expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", "1", ".", "@", "<", ">", "%", " ", "\t", "~", "!", "\x7f", "é", "\x00", "\u2028"]),
               max_size=30))
def test_message_id_escaping_is_the_plain_definition(text: str) -> None:
    # The usual Message-ID (visible ASCII) is returned as it is; everything else goes the long way.
    plain = "".join(ch if "!" <= ch <= "~" and ch not in "<>%" else mailheaders.percent(ch) for ch in text)
    assert mailheaders.visible(text) == plain


def test_message_id_absent_and_long() -> None:
    assert parse(eml(message_id=None)).message_id is None
    long = parse(eml(message_id="<" + "x" * 5000 + "@example.org>")).message_id
    assert long is not None and len(long) <= 250
    assert long == parse(eml(message_id="<" + "x" * 5000 + "@example.org>")).message_id
    assert long != parse(eml(message_id="<" + "x" * 5001 + "@example.org>")).message_id


def test_message_id_cannot_inject_into_the_reply() -> None:
    mid = parse(eml(message_id="<a@b>\n Bcc: victim@example.net")).message_id
    assert mid == "a@b"
    raw = eml(message_id="<PLACEHOLDER>").replace(b"PLACEHOLDER", b"a\x00\x7f\xff@b")
    mid = parse(raw).message_id
    assert mid is not None and all("!" <= ch <= "~" and ch not in "<>" for ch in mid)


# --- bare CR / LF --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"Subject: hi\nBcc: injected@example.net\r\nFrom: a@example.org\r\n\r\nbody\r\n",
        b"From: a@example.org\r\nSubject: hi\rX-Injected: 1\r\n\r\nbody\r\n",
        b"From: a@example.org\r\nSubject: hi\n\nbody with bare LF before a later blank line\r\n\r\nx\r\n",
        b"From: a@example.org\nSubject: all bare LF\n\nbody\n",
        b"From: a@example.org\r\nSubject: ends in CR\r",
        b"\nbody after a bare LF\r\n",
    ],
)
def test_bare_cr_or_lf_in_headers_is_refused(raw: bytes) -> None:
    with pytest.raises(MailRejected) as info:
        parse(raw)
    assert info.value.smtp_code == 550 and info.value.reply.startswith("550 5.6.0 ")
    assert isinstance(info.value, FrontdoorError)


def test_too_big_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_MESSAGE_BYTES", 100)
    with pytest.raises(MailRejected) as info:
        parse(eml("x" * 200))
    assert info.value.smtp_code == 552 and info.value.reply.startswith("552 5.3.4 ")


def test_a_parser_failure_is_an_answer_and_the_log_holds_no_content(monkeypatch: pytest.MonkeyPatch,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    def broken(raw: bytes, envelope_from: str | None, own_hosts: frozenset[str]) -> ParsedMail:
        raise IndexError(raw.decode())

    monkeypatch.setattr(mailparse, "_parse", broken)
    with pytest.raises(MailRejected) as info:
        parse(eml("secret text https://www.example.com/secret"))
    assert (info.value.smtp_code, info.value.reply) == (554, mailparse.INTERNAL_REPLY)
    assert "IndexError" in caplog.text and "secret" not in caplog.text and SENDER not in caplog.text

    def out_of_memory(raw: bytes, envelope_from: str | None, own_hosts: frozenset[str]) -> ParsedMail:
        raise MemoryError

    monkeypatch.setattr(mailparse, "_parse", out_of_memory)
    with pytest.raises(MailRejected) as info:
        parse(eml())
    assert info.value.smtp_code == 451 and info.value.reply.startswith("451 4.3.0 ")


def test_crlf_headers_without_a_body_are_accepted() -> None:
    assert parse(b"From: a@example.org\r\nSubject: hi\r\n").subject == "hi"
    assert parse(b"From: a@example.org\r\nSubject: folded\r\n  subject\r\n\r\n").subject == "folded subject"


def test_bare_cr_and_lf_in_the_body_are_accepted() -> None:
    mail = parse(b"Subject: hi\r\n\r\nline one\nline two\rline three https://www.example.com/x\r\n")
    assert mail.body_text == "line one\nline two\nline three https://www.example.com/x"


async def test_what_aiosmtpd_hands_the_handler() -> None:
    """The check above is written against this: aiosmtpd 1.4.6 keeps a bare LF inside a line,
    and MAIL FROM:<> arrives as "<>"."""
    from aiosmtpd.smtp import SMTP

    received: list[tuple[str, bytes]] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append((envelope.mail_from, envelope.original_content))
            return "250 OK"

    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Handler(), hostname="mx.test.invalid", loop=loop), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for line in (b"EHLO client.test.invalid\r\n", b"MAIL FROM:<>\r\n", b"RCPT TO:<report@hotline.example.com>\r\n",
                     b"DATA\r\n", b"Subject: hi\nBcc: injected@example.net\r\n\r\n..dot\r\n.\r\n", b"QUIT\r\n"):
            writer.write(line)
            await writer.drain()
            await asyncio.wait_for(reader.readuntil(b"\r\n"), 5)
        writer.close()
        await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()
    assert received == [("<>", b"Subject: hi\nBcc: injected@example.net\r\n\r\n.dot\r\n")]
    with pytest.raises(MailRejected):
        parse_mail(received[0][1], envelope_from=received[0][0])


# --- the sender's address --------------------------------------------------------------


def test_sender_address_and_name_never_reach_the_report() -> None:
    raw = eml("Write to Sender@Example.org or sender%40example.org. Regards, Sam Sender\n"
              "https://www.example.com/reported\nhttps://www.example.com/unsubscribe?u=sender@example.org\n"
              "Reply-To address: replies@example.net, envelope: bounce-7@example.net\n",
              subject="From sender@example.org", headers="Reply-To: Other Name <replies@example.net>\nSender: helper@example.net")
    mail = parse(raw, envelope_from="bounce-7@example.net")
    fields = submission(mail)
    everything = str(fields) + str(mail)
    for secret in ("sender@example.org", "sender%40example.org", "replies@example.net", "bounce-7@example.net",
                   "Sam Sender", "Other Name"):
        assert secret.lower() not in everything.lower()
    assert mail.urls == ("https://www.example.com/reported",)
    assert "[email removed]" in (description(mail) or "")


def test_short_or_address_like_display_names_are_not_removed() -> None:
    assert "Al" in parse(eml("Al was here", sender=f"Al <{SENDER}>")).body_text
    assert parse(eml("hello", sender=f'"{SENDER}" <{SENDER}>')).body_text == "hello"


# --- description and submission -------------------------------------------------------


def test_description() -> None:
    mail = parse(eml("Body text\n\n\n\nmore  \n"))
    assert description(mail) == "Subject: A report\n\nBody text\n\nmore"
    assert description(mail, max_chars=20) == "Subject: A report…"
    assert description(parse(eml("", subject=None))) is None
    assert description(parse(eml("only body", subject=None))) == "only body"
    assert description(parse(eml("", subject="only subject"))) == "Subject: only subject"


def test_submission_fields() -> None:
    fields = submission(parse(eml("Please check https://www.example.com/x\n")), country_hint="de")
    assert fields == {
        "category": "other", "urls": ["https://www.example.com/x"],
        "description": "Subject: A report\n\nPlease check https://www.example.com/x", "locale": "en",
        "attachments_dropped": 0, "where_seen": None, "reporter_role": "unknown", "reporter_country": "DE",
        "child_in_immediate_danger": False,
    }
    assert submission(parse(eml()), country_hint="Germany")["reporter_country"] is None


def test_empty_email_becomes_a_valid_report() -> None:
    mail = parse(eml("", subject=None))
    assert submission(mail)["description"] == EMPTY_DESCRIPTION
    assert build(mail)["description"] == EMPTY_DESCRIPTION


@pytest.mark.parametrize("default_region", [None, "DE", "GB", "US"])
@pytest.mark.parametrize("body", ["Call 030 1234567 or 12345 678901. ", "Code 12345 and 23456, 34567; ", "Nummer 0301234 x ",
                                  "a@b c@d "])
def test_long_descriptions_still_fit_after_redaction(body: str, default_region: str | None) -> None:
    # Redaction marks are longer than what they replace; the stored report allows 4000 characters.
    mail = parse(eml(body * 500, headers="Content-Language: de"))
    assert len(description(mail) or "") >= 3990
    fields = submission(mail, default_region=default_region)
    report = build_report(fields, channel="email", keyring=KEYRING, shard_of_url=lambda u: 0, default_region=default_region)
    assert 1000 < len(report["description"]) <= 4000
    check(REPORT_SCHEMA, report)


def test_at_most_20_urls_deduplicated_by_normalized_form() -> None:
    body = "https://Example.com/a https://example.com:443/a?utm_source=x https://example.com/a#frag\n"
    body += "".join(f"https://www.example.com/{i}\n" for i in range(40))
    body += "http://localhost/x http://192.168.1.1/ ftp://example.com/x\n"
    mail = parse(eml(body))
    assert mail.urls[0] == "https://Example.com/a"
    assert len(mail.urls) == 20 and "https://www.example.com/18" in mail.urls
    assert not any("localhost" in u or "192.168" in u for u in mail.urls)


def test_url_credentials_are_not_kept() -> None:
    assert parse(eml("https://user:secret@www.example.com/x\n")).urls == ("https://www.example.com/x",)


# --- limits and hostile structure ------------------------------------------------------


def test_deep_nesting_stops_at_the_depth_limit_without_recursion() -> None:
    def nested(depth: int) -> bytes:
        body = "".join(f'Content-Type: multipart/mixed; boundary="n{i}"\n\n--n{i}\n' for i in range(1, depth))
        body += "Content-Type: text/plain\n\nDeep https://www.example.com/deep\n"
        body += "".join(f"--n{i}--\n" for i in reversed(range(1, depth)))
        return eml("--n0\n" + body + "--n0--\n", content_type='multipart/mixed; boundary="n0"')

    shallow = parse(nested(limits.MAX_DEPTH))
    assert shallow.urls == ("https://www.example.com/deep",) and shallow.attachments_dropped == 0
    assert shallow.omitted == limits.Omitted()
    for depth in (limits.MAX_DEPTH + 2, 50, 3000):
        deep = parse(nested(depth))
        assert deep.urls == () and deep.attachments_dropped == 0
        assert deep.omitted.counts() == {"nested_parts": 1}  # left out, and said so
        assert submission(deep)["omitted"] == {"nested_parts": 1}


def test_parts_beyond_the_limit_are_counted_not_read() -> None:
    parts = [("Content-Type: text/plain", f"part {i}") for i in range(limits.MAX_PARTS + 50)]
    mail = parse(multipart(*parts))
    assert f"part {limits.MAX_PARTS - 2}" in mail.body_text and f"part {limits.MAX_PARTS}" not in mail.body_text
    assert mail.attachments_dropped == 0 and mail.omitted.parts == 51  # text parts not read, not attachments


def test_links_beyond_the_twenty_kept_are_counted() -> None:
    links = [f"https://www.example.com/page/{i}" for i in range(100)]
    mail = parse(eml("\n".join(links) + "\n"))
    assert mail.urls == tuple(links[: limits.MAX_URLS])
    assert mail.omitted.links == 80
    assert submission(mail)["omitted"]["links"] == 80


def test_a_wall_of_links_is_counted_past_every_cap() -> None:
    """10,000 links: 20 kept; those tried beyond them, those past the candidate cap and those in text
    past the body cap are counted too (the last by a regular expression alone)."""
    links = [f"https://www.example.com/p{i}" for i in range(10_000)]
    mail = parse(eml(" ".join(links)))
    assert len(mail.urls) == limits.MAX_URLS
    assert mail.omitted.links == 10_000 - limits.MAX_URLS
    assert mail.omitted.text_chars > len(" ".join(links)) - limits.MAX_DESCRIPTION_CHARS - 100


def test_text_beyond_the_description_is_counted() -> None:
    mail = parse(eml("word " * 2000, subject="Long"))
    text = description(mail)
    assert text is not None and len(text) == limits.MAX_DESCRIPTION_CHARS
    full = len("Subject: Long\n\n" + ("word " * 2000).strip())
    assert mail.omitted.counts() == {"text_chars": full - (limits.MAX_DESCRIPTION_CHARS - 1)}


def test_a_message_that_fits_omits_nothing() -> None:
    mail = parse(eml("See https://www.example.com/one and https://www.example.com/two\n"))
    assert mail.omitted == limits.Omitted() and "omitted" not in submission(mail)


def test_body_text_is_capped() -> None:
    mail = parse(eml(("word " * 20 + "\n") * 2000))
    assert len(mail.body_text) <= limits.MAX_BODY_CHARS


def test_a_character_cut_by_the_part_limit_is_dropped_not_garbled() -> None:
    body = "é" * (limits.MAX_PART_CHARS // 2) + "tail"  # the limit falls inside a two-byte character
    raw = eml("PLACEHOLDER", content_type="text/plain; charset=utf-8").replace(b"PLACEHOLDER", b"x" + body.encode())
    text = parse(raw).body_text
    assert text.startswith("xéé") and "\ufffd" not in text and "Ã" not in text


@pytest.mark.parametrize(
    ("charset", "body", "expected"),
    [
        ("x-unknown", "ümlaut".encode(), "ümlaut"),
        ("utf-8", "café".encode("latin-1"), "café"),
        ("iso-8859-1", "café".encode(), "café"),  # UTF-8 labelled Latin-1
        ("us-ascii", "café".encode(), "café"),
        ("windows-1252", "€uro".encode("cp1252"), "€uro"),
        ("koi8-r", "привет".encode("koi8-r"), "привет"),
        ("shift_jis", "日本".encode("shift_jis"), "日本"),
        ("base64", b"aGVsbG8=", "aGVsbG8="),  # a codec that is not a text encoding
        ("zlib", b"x\x9c", "x\u0153"),
        ("punycode", b"a-99", "a-99"),
        ("unicode_escape", b"\\u202e", "\\u202e"),
        ('"utf-8"', "ü".encode(), "ü"),
        ("utf-8''", "ü".encode(), "ü"),
    ],
)
def test_charsets_never_raise(charset: str, body: bytes, expected: str) -> None:
    raw = eml("PLACEHOLDER", content_type=f"text/plain; charset={charset}").replace(b"PLACEHOLDER", body)
    assert parse(raw).body_text == expected


def test_no_lone_surrogates_or_controls_survive() -> None:
    raw = eml("+2ADYAA- \x00\x1b[0m\u202eX https://www.example.com/x", content_type="text/plain; charset=utf-7",
              subject="=?utf-16?b?2AA=?= =?utf-7?q?+2AA-?=")
    mail = parse(raw)
    assert_storable(mail)
    assert "\x00" not in mail.body_text and "\x1b" not in mail.body_text and "\u202e" not in mail.body_text
    html = parse(eml("&#xD800;&#0;<b>x</b>", content_type="text/html"))
    assert_storable(html)


# --- the corpus ------------------------------------------------------------------------

# What some corpus files must give; the rest only have to parse or be refused cleanly.
CORPUS_EXPECTATIONS: dict[str, dict[str, Any]] = {
    "plain.eml": {"urls": ("https://www.example.com/gallery/123?utm_source=newsletter",)},
    "multipart-alternative.eml": {"urls": ("https://www.example.com/a", "https://second.example.net/b")},
    "quoted-printable.eml": {"urls": ("https://forum.example.com/topic?id=42",), "locale": "fr"},
    "base64-text.eml": {"urls": ("https://www.example.com/b64",), "locale": "de"},
    "rfc2047-subject-de.eml": {"subject": "Meldung über eine Seite mit Bildern", "locale": "de", "reply_language_hint": "de-DE"},
    "rfc2047-subject-fr.eml": {"subject": "Signalement d'une page à vérifier", "locale": "fr"},
    "html-only-script.eml": {"urls": ("https://www.example.com/html?x=1&y=2", "https://www.example.com/second")},
    "html-hostile.eml": {"urls": ("https://www.example.com/hostile", "https://www.example.com/unclosed-link")},
    "attachment-only.eml": {"attachments_dropped": 1, "urls": (), "body_text": ""},
    "attachment-with-url.eml": {"attachments_dropped": 3, "urls": (), "body_text": "My notes are attached."},
    "multipart-no-text.eml": {"attachments_dropped": 2, "urls": ()},
    "rfc822-forwards.eml": {"attachments_dropped": 1, "urls": ("https://www.example.com/forwarded-inline",)},
    "malformed-missing-boundary.eml": {"attachments_dropped": 1, "urls": ()},
    "malformed-unterminated-multipart.eml": {"urls": ("https://www.example.com/unterminated",)},
    "charset-unknown.eml": {"urls": ("https://www.example.com/unknown",)},
    "charset-wrong.eml": {"urls": ("https://www.example.com/wrong",)},
    "nested-50.eml": {"attachments_dropped": 0, "omitted": Omitted(nested_parts=1)},
    "nested-1000.eml": {"attachments_dropped": 0, "omitted": Omitted(nested_parts=1)},
    "many-parts.eml": {"attachments_dropped": 0, "omitted": Omitted(links=179, parts=101, text_chars=4356)},
    "header-8bit.eml": {"subject": "Raw UTF-8 header: Grüße aus Köln"},
    "long-line-200k.eml": {"urls": ("https://www.example.com/start",)},
    "empty-body.eml": {"body_text": "", "subject": ""},
    "no-headers.eml": {"message_id": None, "urls": ("https://www.example.com/no-headers",)},
    "no-url.eml": {"urls": (), "category": "other"},
    "bounce-multipart-report.eml": {"automated": True},
    "auto-reply.eml": {"automated": True},
    "list-message.eml": {"automated": True},
    "sender-address-in-body.eml": {"urls": ("https://www.example.com/reported",)},
    "bare-lf-injected-header.eml": {"rejected": 550},
    "bare-cr-header.eml": {"rejected": 550},
    "lf-only-line-ends.eml": {"rejected": 550},
    "binary-garbage.eml": {"rejected": 550},
}
CORPUS_FILES = sorted(p.name for p in CORPUS.glob("*.eml"))


def test_corpus_is_all_there() -> None:
    assert len(CORPUS_FILES) >= 40
    assert set(CORPUS_EXPECTATIONS) <= set(CORPUS_FILES)
    listed = (CORPUS / "README.md").read_text()
    assert all(f"`{name}`" in listed for name in CORPUS_FILES)
    # Line ends are the point of several files: fail loudly if git or an editor changed them.
    assert b"\r\n" in (CORPUS / "plain.eml").read_bytes() and b"\r\n" not in (CORPUS / "lf-only-line-ends.eml").read_bytes()


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_message(name: str) -> None:
    raw = (CORPUS / name).read_bytes()
    expected = dict(CORPUS_EXPECTATIONS.get(name, {}))
    try:
        mail = parse(raw)
    except MailRejected as exc:
        assert 400 <= exc.smtp_code < 600 and exc.reply.startswith(str(exc.smtp_code))
        assert exc.reply != mailparse.INTERNAL_REPLY
        assert expected.get("rejected") == exc.smtp_code, f"{name} was refused: {exc.reply}"
        return
    assert "rejected" not in expected, f"{name} should have been refused"
    assert_storable(mail)
    for attribute, value in expected.items():
        assert getattr(mail, attribute) == value, attribute


def test_corpus_duplicates_share_a_message_id() -> None:
    a, b = (parse((CORPUS / f"duplicate-{x}.eml").read_bytes()) for x in "ab")
    assert a.message_id == b.message_id == "dup-1@mail.example.org"


def test_sender_is_gone_from_the_corpus_reports() -> None:
    mail = parse((CORPUS / "sender-address-in-body.eml").read_bytes())
    assert "sender" not in str(submission(mail)).lower().replace("[email removed]", "")


# --- random input ----------------------------------------------------------------------

VALID = multipart(("Content-Type: text/plain; charset=utf-8", "Bitte prüfen https://www.example.com/a"),
                  ("Content-Type: text/html; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable",
                   '<p>caf=E9 <a href=3D"https://www.example.com/b">b</a></p>'),
                  ('Content-Type: application/octet-stream\nContent-Disposition: attachment; filename="x.bin"', "AAAA"),
                  subtype="alternative", subject="=?utf-8?q?Gr=C3=BC=C3=9Fe?=", headers="Content-Language: de")


def check_random(raw: bytes) -> None:
    try:
        mail = parse(raw)
    except MailRejected as exc:
        assert 400 <= exc.smtp_code < 600
        assert exc.reply != mailparse.INTERNAL_REPLY, "the parser failed; see the log for the exception"
        return
    assert_storable(mail)


@given(st.binary(max_size=3000))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_bytes(raw: bytes) -> None:
    check_random(raw)


@given(st.lists(st.binary(max_size=80).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")), max_size=40))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_crlf_lines(lines: list[bytes]) -> None:
    check_random(b"\r\n".join(lines) + b"\r\n")


@st.composite
def mutations(draw: st.DrawFn) -> bytes:
    raw = bytearray(VALID)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(raw)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "duplicate"]))
        chunk = draw(st.sampled_from([b"\r\n", b"--b0\r\n", b"--b0--\r\n", b"=?", b"?=", b"<", b">", b'"', b";", b"=",
                                      b"\xff", b"\x00", b"<!--", b"<a href=", b"Content-Type: multipart/mixed; boundary=b0\r\n",
                                      b"Content-Transfer-Encoding: base64\r\n", b"charset=utf-7", b"\r\n\r\n"])
                     | st.binary(max_size=20))
        if kind == "insert":
            raw[at:at] = chunk
        elif kind == "delete":
            del raw[at: at + draw(st.integers(1, 40))]
        elif kind == "replace":
            raw[at: at + len(chunk)] = chunk
        else:
            raw[at:at] = raw[at: at + draw(st.integers(1, 200))]
    return bytes(raw)


@given(mutations())
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_mutations_of_a_valid_message(raw: bytes) -> None:
    check_random(raw)


# --- links and reading the message --------------------------------------------------


def test_links_to_own_hosts_are_not_reported() -> None:
    raw = eml("Thanks. See https://report.hotline.example/help and https://www.example.com/new-page")
    mail = parse_mail(raw, envelope_from=SENDER, own_hosts=frozenset({"report.hotline.example"}))
    assert mail.urls == ("https://www.example.com/new-page",)
    assert parse(raw).urls == ("https://report.hotline.example/help", "https://www.example.com/new-page")


url_text = st.lists(st.sampled_from(["http://", "https://", "HTTPS://", "httpſ://", "hTtP", "s", "://", "x", " ", "\n",
                                     "a.example/p", "ftp://", "(", ")", "\u00a0"]), max_size=16).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(url_text, st.text(max_size=40)))
def test_url_scans_find_what_the_plain_patterns_find(text: str) -> None:
    # The scans start from "://" for speed; they must agree with the obvious patterns.
    assert [urls.url_start(m) for m in urls.URL_START_RE.finditer(text)] == \
        [m.start() for m in re.finditer(r"https?://", text, re.IGNORECASE)]
    assert maillinks.without_urls(text) == re.sub(r"https?://\S*", " ", text, flags=re.IGNORECASE)


def _structure(msg: Any) -> Any:
    head = (msg.get_unixfrom(), list(msg.items()), [type(d) for d in msg.defects])
    if msg.is_multipart():
        return (*head, [_structure(p) for p in msg.get_payload()])
    del msg["content-transfer-encoding"]  # so that get_payload(decode=True) gives the bytes as the parser kept them
    return (*head, msg.get_payload(decode=True))


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.eml")), ids=lambda p: p.name)
def test_the_message_is_read_as_the_stdlib_parser_reads_it(path: Path) -> None:
    raw = path.read_bytes()
    try:
        limits.refuse_unreadable(raw)
    except MailRejected:
        return  # refused before parsing
    full = BytesParser(policy=mime.POLICY).parsebytes(raw)
    assert _structure(mime.read_message(raw)) == _structure(full)


@pytest.mark.parametrize("head", [
    "From: a@example.org\r\nSubject: x\r\n",
    "From a@example.org Mon Jan  1 00:00:00 2024\r\nSubject: x\r\n",
    "Subject: x\r\nFrom someone at the end\r\n",
    "Subject: x\r\nnot a header line\r\nTo: b@example.org\r\n",
    " folded first\r\nSubject: x\r\n",
    "Subject: x\r\nContent-Type: message/rfc822\r\n",
    "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n",
    "Subject: x\r\nContent-Type: text/plain; charset=\"utf-8\r\n",
    # a header block ending early, with a transfer encoding under which what is left decodes to nothing
    "Subject: x\r\nContent-Transfer-Encoding: base64\r\n!!!\r\n",
    "Subject: x\r\nContent-Transfer-Encoding: quoted-printable\r\n=\r\n",
    "Subject: caf\xe9\r\nContent-Transfer-Encoding: base64\r\n!!!\r\n",
    "Subject: caf\xe9\r\nContent-Type: text/plain; charset=punycode\r\n\xe9 not a header\r\n",
    "Subject: caf\xe9\r\nContent-Transfer-Encoding: 8bit\r\n",
])
@pytest.mark.parametrize("body", ["", "line\r\n", "Subject: inner\r\n\r\nbody\r\n--b\r\n\r\nx\r\n--b--\r\n", "bare\nlf\rcr\xff\r\n"])
def test_the_header_block_alone_reads_as_the_whole_message(head: str, body: str) -> None:
    raw = (head + "\r\n" + body).encode("latin-1")
    full = BytesParser(policy=mime.POLICY).parsebytes(raw)
    assert _structure(mime.read_message(raw)) == _structure(full)


_HEAD_LINES = ["Subject: x", "Subject:", "Subject:   ", "X-A:\tvalue ", " folded", "\tfolded", "  ", "From: a@example.org",
               "From a@example.org Mon Jan  1 00:00:00 2024", "From ", ": no name", "X B: spaced name", "not a header",
               "X-\x7f: control", "Content-Type: multipart/mixed; boundary=b", "Content-Type: message/rfc822",
               "Content-Type: text/plain; charset=utf-8", "X-8bit: caf\xe9", "Received: a;\tb", "X-Colons: a: b: c",
               "Content-Transfer-Encoding: base64", "Content-Transfer-Encoding: quoted-printable", "=", "!!!"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_HEAD_LINES), min_size=1, max_size=8), st.sampled_from(["", "body\r\n", "--b\r\n\r\nx\r\n--b--\r\n"]))
def test_a_plain_header_block_reads_as_the_parser_reads_it(lines: list[str], body: str) -> None:
    # read_message parses the header block alone; whatever it takes or leaves to the parser, the
    # message read is the parser's reading of the whole message.
    raw = ("".join(line + "\r\n" for line in lines) + "\r\n" + body).encode("latin-1")
    full = BytesParser(policy=mime.POLICY).parsebytes(raw)
    assert _structure(mime.read_message(raw)) == _structure(full)


def test_a_single_part_body_is_not_run_through_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bool] = []
    original = BytesParser.parsebytes

    def recording(self: BytesParser, text: bytes, headersonly: bool = False) -> Any:
        calls.append(headersonly)
        return original(self, text, headersonly)

    monkeypatch.setattr(BytesParser, "parsebytes", recording)
    msg = mime.read_message(eml(headers="X-Folded: one\n\ttwo"))
    assert calls == [True] and msg["x-folded"] == "one\r\n\ttwo" and msg.get_content_charset() == "utf-8"
    assert msg.get_payload() == "Please check https://www.example.com/page\r\n"
    for raw in (multipart(("Content-Type: text/plain", "x")), eml(headers="not a header"),
                eml(headers="From nobody Mon Jan  1 00:00:00 2024")):
        calls.clear()
        mime.read_message(raw)
        assert calls == [True, False]  # a multipart body, or a header block ending early, is the parser's to read


_PARAM_PIECES = ["text/plain", " charset=utf-8", "charset=UTF-8 ", " Charset = iso-8859-1", "name=a.txt", 'name="a;b.txt"',
                 "filename*=utf-8''a%20b", "charset*=us-ascii''utf-8", "format=flowed", "", " ", "x", "=v", "a=<b>",
                 'a="q\\"', "caf\xe9=1", "charset=caf\xe9", "TEXT/HTML", "boundary=b0"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_PARAM_PIECES), min_size=1, max_size=6).map(";".join),
       st.sampled_from(["content-type", "content-disposition"]))
def test_parameters_are_read_as_the_stdlib_reads_them(value: str, header: str) -> None:
    # The charset and the file names come from the stdlib's own get_content_charset and
    # get_params; whatever the parameters, the message is read (never a 554).
    extra = f"Content-Disposition: {value}" if header == "content-disposition" else ""
    raw = eml("text https://www.example.com/p", content_type=value if header == "content-type" else "text/plain",
              headers=extra)
    _parse_or_refuse(raw)
    part = mime.read_message(raw)
    try:
        expected = part.get_content_charset()
    except Exception:
        expected = None
    assert mime.content_charset(part) == expected
    assert mime.content_charset(part, part.get_params([])) == expected  # from the parameters read once


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", " ", "\n", "\r", "\t", "\x00", "\x08", "\x0b", "\x1f", "\x7f", "\x85", "\x9f",
                                          "\u2028", "\u202e", "\ufeff", "\ud800", "é"]), max_size=30))
def test_cleaning_is_the_plain_definition(text: str) -> None:
    # ASCII text takes a faster way (bytes.translate); both must remove exactly the same.
    plain = mailclean.UNSAFE_RE.sub("", mailclean.NEWLINE_RE.sub("\n", mailclean.SURROGATE_RE.sub("\ufffd", text)))
    assert mailclean.clean(text) == plain


# --- hostile input -----------------------------------------------------------------------
# Parsed or refused cleanly here; how the time grows with their size is measured by
# benchmarks/email_bench.py (hostile_inputs), not by a timed test.


MIB = 1024 * 1024


@pytest.mark.parametrize(
    "raw",
    [
        eml("<!--" * (MIB // 4), content_type="text/html"),
        eml("</" * (MIB // 2), content_type="text/html"),
        eml('<a x="' * (MIB // 6), content_type="text/html"),
        eml("https://a.example/" + ")" * MIB),
        eml("x", content_type='text/plain; a="' + ";" * MIB + '"'),
        eml("a-" + "9" * MIB, content_type="text/plain; charset=punycode"),
        eml("é" * (MIB // 2), content_type="text/plain; charset=punycode"),
        eml("".join(f'--n{i}\nContent-Type: multipart/mixed; boundary="n{i + 1}"\n\n' for i in range(10_000)),
            content_type='multipart/mixed; boundary="n0"'),
    ],
    ids=["html-comments", "html-end-tags", "html-open-quotes", "url-closers", "param-semicolons", "punycode",
         "punycode-8bit", "nesting"],
)
def test_a_hostile_megabyte_is_parsed_or_refused_cleanly(raw: bytes) -> None:
    _parse_or_refuse(raw)


def _parse_or_refuse(raw: bytes) -> None:
    try:
        parse(raw)
    except MailRejected as exc:
        assert exc.reply != mailparse.INTERNAL_REPLY


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["=?", "?=", "=?utf-8?q?caf=C3=A9?=", "\r\n ", "\r\n\t", "\n", "a", " ", "?", "="]),
                max_size=10).map("".join))
def test_an_ascii_header_value_takes_the_short_way_only_when_nothing_would_change(value: str) -> None:
    assert mailheaders.header_text(value) == maildecode.decode_encoded_words(mailheaders.FOLD_RE.sub("", value))


def test_a_part_finds_its_headers_again_after_they_change() -> None:
    # Part overrides get_content_type (for its depth); it must still follow every change to the headers.
    part = mime.read_message(eml(content_type="text/plain; charset=utf-8"))
    assert part["subject"] == "A report" and part.get_content_type() == "text/plain"
    part.replace_header("Content-Type", "text/html")
    assert part["subject"] == "A report"  # the index made again before the content type is asked
    assert part.get_content_type() == "text/html"
    del part["content-type"]
    assert part.get("content-type") is None and part.get_content_type() == "text/plain"
    part["Content-Type"] = "multipart/mixed; boundary=b"
    assert part.get_content_type() == "multipart/mixed" and part.get_param("boundary") == "b"
    part.set_default_type("message/rfc822")
    del part["content-type"]
    assert part.get_content_type() == "message/rfc822"
    part["X-Note"] = "first"
    part["X-Note"] = "second"
    assert part["x-note"] == "first"  # the first of a name, as Message.get finds it


# --- the stdlib's view of a header is capped ------------------------------------------------
# Message.get_params (under get_param, get_content_charset, get_boundary) is quadratic in the ";"
# inside quotes; CappedHeaderPolicy hands every reader at most PARAM_HEADER_CHARS of Content-Type
# and Content-Disposition, with at most MAX_PARAMS parameters.


@pytest.mark.parametrize("header", ["Content-Type", "Content-Disposition"])
def test_a_hostile_parameter_header_is_capped_before_the_stdlib_reads_it(header: str) -> None:
    hostile = 'text/plain; a="' + ";" * 100_000 + '"; charset=utf-8'
    raw = (eml("x https://www.example.com/x", content_type=hostile) if header == "Content-Type"
           else eml("x https://www.example.com/x", headers=f"{header}: {hostile}"))
    for part in (mime.read_message(raw), BytesParser(policy=mime.POLICY).parsebytes(raw)):
        seen = part[header]
        assert len(seen) <= limits.PARAM_HEADER_CHARS and seen.count(";") <= limits.MAX_PARAMS
        assert [v for _, v in part.items() if v.startswith("text/plain; a=")] == [seen]
        assert len(part.get_params(header=header.lower())) <= limits.MAX_PARAMS + 1
    assert parse(raw).urls == ("https://www.example.com/x",)


def test_many_parameters_are_cut_to_the_first_ones_whole() -> None:
    value = "text/plain; charset=utf-8; " + "; ".join(f"p{i}=v" for i in range(100))
    part = mime.read_message(eml(content_type=value))
    assert part["content-type"].count(";") == limits.MAX_PARAMS
    assert part.get_content_charset() == "utf-8" and part.get_param(f"p{limits.MAX_PARAMS - 2}") == "v"
    assert part.get_param(f"p{limits.MAX_PARAMS - 1}") is None


def test_a_capped_boundary_header_in_a_nested_part() -> None:
    inner = 'multipart/mixed; boundary="in"; ' + "x=1;" * 10_000
    mail = parse(multipart((f"Content-Type: {inner}", "--in\nContent-Type: text/plain\n\nInner https://www.example.com/in\n--in--")))
    assert mail.urls == ("https://www.example.com/in",)


def test_other_headers_are_capped_too() -> None:
    part = mime.read_message(eml(subject="s" * 100_000))
    assert len(part["subject"]) == limits.HEADER_CHARS
    assert len(parse(eml(subject="s" * 100_000)).subject) == limits.MAX_SUBJECT_CHARS


# --- transfer encodings are decode.py's ----------------------------------------------------


def test_transfer_encodings_are_undone_here_not_by_the_stdlib() -> None:
    # get_payload(decode=True) would hand back a base64 body one character too long as its
    # encoded text, and decode uuencode; body_bytes reads the bytes as they are and decodes here.
    encoded = base64.b64encode(b"Decoded https://www.example.com/b64").decode() + "Q"
    mail = parse(eml(encoded, headers="Content-Transfer-Encoding: base64"))
    assert mail.body_text == "Decoded https://www.example.com/b64"
    uu = "begin 644 x\n#86)C\n`\nend"
    assert parse(eml(uu, headers="Content-Transfer-Encoding: x-uuencode")).body_text == uu
    qp = parse(eml("caf=C3=A9 https://www.example.com/=\nqp", headers="Content-Transfer-Encoding: Quoted-Printable "))
    assert qp.body_text == "café https://www.example.com/qp"


def test_8bit_bytes_are_read_with_the_charset_chosen_here() -> None:
    # Message.get_payload() would decode 8-bit bytes with the declared charset, even punycode
    # (quadratic) or an RFC 2231 tuple (a TypeError); the body is read as bytes and decode.py
    # distrusts the label.
    for content_type in ("text/plain; charset=punycode", "text/plain; charset*=punycode''x"):
        assert parse(eml("Grüße https://www.example.com/x", content_type=content_type)).body_text == \
            "Grüße https://www.example.com/x"


def test_the_package_reads_no_private_stdlib_or_aiosmtpd_names() -> None:
    # Project rule: public APIs only, so a Python or aiosmtpd upgrade cannot change what we rely on.
    package = Path(mailparse.__file__).parent
    for path in package.glob("*.py"):
        source = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+(email|aiosmtpd)(\.\w+)*\._", source, re.MULTILINE), path.name
        assert not re.search(r"from (email|aiosmtpd)(\.\w+)* import .*\b_\w", source), path.name
        assert not re.search(r"""getattr\([^)]*["']_|__dict__""", source), path.name
        for m in re.finditer(r"(\w+)\._[a-z]\w*", source):
            assert m.group(1) == "self", f"{path.name}: {m.group(0)}"
        if re.search(r"^class \w+\((EmailMessage|MIMEPart|Message|EmailPolicy|Policy|Compat32|SMTP)\)", source, re.MULTILINE):
            # a subclass of a library's class: any self._x there would be the library's own attribute
            assert not re.search(r"self\._", source), path.name
