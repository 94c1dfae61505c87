"""The e-mail channel with real SMTP clients (smtplib) against the running server, and a second
aiosmtpd server as the outbound relay that records what it receives."""

from __future__ import annotations

import asyncio
import datetime
import smtplib
import socket
import ssl
import time
from dataclasses import replace
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from frontdoor.api.appkeys import KEYRING, OUTBOX, QUEUE
from frontdoor.app import create_app
from frontdoor.channels.email.server import EmailChannel
from frontdoor.outbox import Outbox
from frontdoor.prevention_content import load_catalog
from frontdoor.queue import TriageQueue, stats
from frontdoor.reports.intake import DEDUPE_TTL_S, ReportIntake
from frontdoor.settings import EmailSettings, HotlineSettings
from frontdoor.storage import keys
from support.relay import Relay, running_relay
from support.servers import free_port

REPORT_TO = "report@hotline.example"
SENDER = "canary.sender.7731@example.org"
CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture
def relay() -> Any:
    with running_relay() as recorder:
        yield recorder


@pytest.fixture
async def mail(aiohttp_client, settings, redis, redis_url, relay):  # type: ignore[no-untyped-def]
    recorder = relay
    port = free_port()
    s = replace(settings, email=EmailSettings(port=port, addresses=(REPORT_TO,), relay=("127.0.0.1", relay.port)),
                hotline=HotlineSettings(country="GB", public_url="https://report.hotline.example/"),
                outbox=replace(settings.outbox, poll_s=0.05, first_retry_s=0.2, max_attempts=3))
    client = await aiohttp_client(create_app(s, redis_url, housekeeping=False))  # starts the SMTP server
    app = client.app
    return {"port": port, "recorder": recorder, "queue": app[QUEUE], "keyring": app[KEYRING], "outbox": app[OUTBOX],
            "redis": redis, "settings": s}


def message(subject: str = "Report", body: str = "I found https://example.com/reported-page today.",
            **headers: str) -> bytes:
    m = EmailMessage()
    m["From"] = SENDER
    m["To"] = REPORT_TO
    m["Subject"] = subject
    m["Message-ID"] = headers.pop("Message_ID", f"<{time.time_ns()}@example.org>")
    for name, value in headers.items():
        m[name.replace("_", "-")] = value
    m.set_content(body)
    return m.as_bytes(policy=m.policy.clone(linesep="\r\n"))  # on the wire, as an MTA sends it


def send(port: int, raw: bytes, *, mail_from: str = SENDER, to: str = REPORT_TO) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo("client.example.org")
        code, reply = client.mail(mail_from)
        assert code == 250, reply
        code, reply = client.rcpt(to)
        if code != 250:
            return code, reply
        return client.data(raw)


async def asend(port: int, raw: bytes, **kw: Any) -> tuple[int, bytes]:
    return await asyncio.to_thread(send, port, raw, **kw)


async def reports_today(queue: TriageQueue) -> int:
    today = datetime.datetime.now(datetime.timezone.utc).date()
    return (await stats.collect(queue, today, today))["totals"]["reports"]


async def wait_for(predicate: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_an_email_becomes_a_report_and_gets_a_safe_reply(mail):
    code, _ = await asend(mail["port"], message(body="Please look at https://example.com/reported-page?utm_source=mail"))
    assert code == 250
    queue: TriageQueue = mail["queue"]
    case = await queue.get(await queue.claim("analyst"))
    report = case["reports"][0]
    assert report["channel"] == "email" and case["url"] == "https://example.com/reported-page"
    await wait_for(lambda: mail["recorder"].messages)
    mail_from, rcpt, raw = mail["recorder"].messages[0]
    reply = BytesParser(policy=default_policy).parsebytes(raw)
    assert mail_from in ("", "<>") and rcpt == [SENDER]  # an empty return path: a bounce of the reply goes nowhere
    assert reply["Auto-Submitted"] == "auto-replied" and reply["To"] == SENDER
    text = reply.get_content()
    assert "receipt" in text.lower() and "https://report.hotline.example/" in text and "never send pictures" in text
    code_in_reply = reply["Subject"].rsplit(" ", 1)[-1]
    assert await queue.receipt_status(code_in_reply) == "in_review"
    # The sender's address is nowhere in Redis once the reply is out.
    async for key in mail["redis"].scan_iter("*"):
        assert "canary.sender" not in key
        if await mail["redis"].type(key) == "string":
            assert "canary.sender" not in (await mail["redis"].get(key) or "")
    assert "canary.sender" not in str(report)


async def test_the_reply_speaks_the_reporters_language(mail):
    await asend(mail["port"], message(body="Ich habe https://example.com/seite gesehen.", Content_Language="de"))
    await wait_for(lambda: mail["recorder"].messages)
    reply = BytesParser(policy=default_policy).parsebytes(mail["recorder"].messages[0][2])
    assert reply["Content-Language"] == "de" and "Bestätigungscode" in reply["Subject"]


async def test_other_recipients_are_refused_no_relay(mail):
    code, reply = await asend(mail["port"], message(), to="someone@elsewhere.example")
    assert code == 550 and b"Relaying denied" in reply
    assert await reports_today(mail["queue"]) == 0


async def test_size_limit_is_announced_and_enforced(mail):
    def probe() -> tuple[str, tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", mail["port"], timeout=10) as client:
            client.ehlo("client.example.org")
            announced = client.esmtp_features.get("size", "")
            client.mail(SENDER)
            client.rcpt(REPORT_TO)
            return announced, client.data(message(body="x" * (1024 * 1024 + 10)))

    announced, (code, _) = await asyncio.to_thread(probe)
    assert announced == str(1024 * 1024) and code == 552
    assert await reports_today(mail["queue"]) == 0


async def test_same_message_id_twice_makes_one_report(mail):
    raw = message(Message_ID="<same-id-123@example.org>")
    assert (await asend(mail["port"], raw))[0] == 250
    assert (await asend(mail["port"], raw))[0] == 250
    assert await reports_today(mail["queue"]) == 1


async def test_a_message_refused_for_a_failure_becomes_a_report_when_retried(mail):
    raw = message(Message_ID="<retry-7@example.org>")
    await mail["redis"].config_set("maxmemory", 1)  # Redis refuses writes, as when it is full
    try:
        assert (await asend(mail["port"], raw))[0] == 451
    finally:
        await mail["redis"].config_set("maxmemory", 0)
    assert await reports_today(mail["queue"]) == 0
    assert (await asend(mail["port"], raw))[0] == 250  # the sender's retry
    assert (await asend(mail["port"], raw))[0] == 250  # and a redelivery after that
    assert await reports_today(mail["queue"]) == 1


async def test_a_message_without_links_is_remembered_in_its_message_ids_shard(mail):
    queue = TriageQueue(mail["redis"], shards=4)
    await queue.setup()
    port = free_port()
    intake = ReportIntake(queue, mail["keyring"])
    channel = EmailChannel(intake, mail["outbox"], load_catalog(), mail["keyring"],
                           EmailSettings(port=port, addresses=(REPORT_TO,)), HotlineSettings(), timeout_s=5)
    raw = message(body="Someone keeps asking my son for pictures in a game chat.", Message_ID="<no-link-1@example.org>")
    async with channel.running():
        for _ in range(4):  # a random shard each time would store most of these again
            assert (await asend(port, raw))[0] == 250
    assert await reports_today(queue) == 1
    dedupe_id = intake.dedupe_key("email", "no-link-1@example.org", SENDER)  # Message-ID and sender, keyed
    shard = queue.shard_of_url(dedupe_id)
    assert 0 < await mail["redis"].ttl(keys.submitted(shard, dedupe_id)) <= DEDUPE_TTL_S
    async for key in mail["redis"].scan_iter("*"):
        assert "no-link-1" not in key


@pytest.mark.parametrize("headers, mail_from", [
    ({"Auto_Submitted": "auto-replied"}, SENDER),
    ({"Precedence": "bulk"}, SENDER),
    ({"List_Id": "<tips.lists.example.org>"}, SENDER),
    ({}, ""),
])
async def test_no_reply_to_auto_replies_bounces_or_lists(mail, headers, mail_from):
    assert (await asend(mail["port"], message(**headers), mail_from=mail_from))[0] == 250
    assert await reports_today(mail["queue"]) == 1  # the report is still made
    await asyncio.sleep(1.5)  # longer than the outbox's poll interval
    assert mail["recorder"].messages == []


async def test_a_relay_refusing_for_a_while_gets_the_reply_once_it_takes_mail_again(mail):
    recorder: Relay = mail["recorder"]
    recorder.refusing = 2  # two attempts answered 451, then the relay takes mail again
    assert (await asend(mail["port"], message()))[0] == 250
    await wait_for(lambda: recorder.messages, timeout_s=10)
    assert recorder.refused == 2 and len(recorder.messages) == 1
    await asyncio.sleep(0.5)  # nothing more arrives: delivered once
    assert len(recorder.messages) == 1
    assert await mail["outbox"].counts() == {"waiting": 0, "dead_letters": 0}


async def test_a_reply_the_relay_always_refuses_ends_in_the_dead_letters(mail):
    recorder: Relay = mail["recorder"]
    recorder.refusing = 1000
    assert (await asend(mail["port"], message()))[0] == 250
    outbox: Outbox = mail["outbox"]
    attempts = mail["settings"].outbox.max_attempts

    async def buried() -> bool:
        return (await outbox.counts())["dead_letters"] == 1

    deadline = time.monotonic() + 60
    while not await buried():
        assert time.monotonic() < deadline, (recorder.refused, await outbox.counts())
        await asyncio.sleep(0.1)
    (dead,) = await outbox.dead_letters()
    assert recorder.refused == attempts and dead.channel == "email" and dead.attempts == attempts
    assert "451" in dead.reason and SENDER not in dead.reason
    recorder.refusing = 0
    assert await outbox.retry(dead.id) != "gone"  # what `frontdoor outbox retry` does
    await wait_for(lambda: recorder.messages, timeout_s=10)
    assert await outbox.counts() == {"waiting": 0, "dead_letters": 0}


async def test_smtp_smuggling_with_bare_lf_dot_makes_one_message(mail):
    smuggled = (b"From: " + SENDER.encode() + b"\r\nTo: " + REPORT_TO.encode() + b"\r\nSubject: one\r\n\r\n"
                b"first https://example.com/one\n.\nMAIL FROM:<" + SENDER.encode() + b">\r\nRCPT TO:<" + REPORT_TO.encode()
                + b">\r\nDATA\r\nSubject: two\r\n\r\nsecond https://example.com/two\r\n.\r\n")

    def talk() -> list[bytes]:
        replies = []
        with socket.create_connection(("127.0.0.1", mail["port"]), timeout=10) as s:
            f = s.makefile("rb")
            replies.append(f.readline())
            for line in (b"EHLO client.example.org\r\n",):
                s.sendall(line)
                while True:
                    reply = f.readline()
                    if reply[3:4] == b" ":
                        break
            for command in (b"MAIL FROM:<" + SENDER.encode() + b">\r\n", b"RCPT TO:<" + REPORT_TO.encode() + b">\r\n", b"DATA\r\n"):
                s.sendall(command)
                replies.append(f.readline())
            s.sendall(smuggled)
            replies.append(f.readline())
            s.sendall(b"QUIT\r\n")
            replies.append(f.readline())
        return replies

    replies = await asyncio.to_thread(talk)
    assert replies[-2].startswith(b"250")
    assert await reports_today(mail["queue"]) == 1
    queue: TriageQueue = mail["queue"]
    case = await queue.get(await queue.claim("a"))
    assert "https://example.com/two" in case["reports"][0]["description"]  # it stayed inside the one message


async def test_header_with_bare_lf_is_refused(mail):
    raw = b"From: " + SENDER.encode() + b"\r\nSubject: hi\nBcc: injected@example.net\r\nTo: " + REPORT_TO.encode() + b"\r\n\r\nbody\r\n"
    code, _ = await asend(mail["port"], raw)
    assert 500 <= code < 600
    assert await reports_today(mail["queue"]) == 0


async def test_every_corpus_message_gets_a_report_or_a_clear_answer(mail):
    files = sorted(CORPUS.glob("*.eml"))
    assert len(files) >= 12
    for path in files:
        code, reply = await asend(mail["port"], path.read_bytes())
        assert code == 250 or 400 <= code < 600, (path.name, code, reply)
    code, _ = await asend(mail["port"], message())  # and the server is still serving
    assert code == 250


async def test_starttls_when_a_certificate_is_configured(aiohttp_client, settings, redis_url, tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.hotline.example")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    port = free_port()
    s = replace(settings, email=EmailSettings(port=port, addresses=(REPORT_TO,), tls_cert=tmp_path / "cert.pem",
                                              tls_key=tmp_path / "key.pem"))
    await aiohttp_client(create_app(s, redis_url, housekeeping=False))

    def over_tls() -> tuple[bool, int]:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.ehlo("client.example.org")
            offered = client.has_extn("starttls")
            client.starttls(context=ssl._create_unverified_context())  # noqa: S323 - a self-signed test certificate
            client.ehlo("client.example.org")
            client.mail(SENDER)
            client.rcpt(REPORT_TO)
            return offered, client.data(message())[0]

    offered, code = await asyncio.to_thread(over_tls)
    assert offered and code == 250


async def test_a_reply_quoting_our_auto_reply_does_not_report_our_own_links(mail):
    ours = load_catalog().resource_urls()[0]
    body = f"Thanks. Also this one: https://example.com/new-page\n\n> These can help:\n> - {ours}\n> https://report.hotline.example/"
    assert (await asend(mail["port"], message(body=body)))[0] == 250
    queue: TriageQueue = mail["queue"]
    first, second = await queue.claim("a"), await queue.claim("a")
    assert second is None  # one case: only the reported link
    assert (await queue.get(first))["url"] == "https://example.com/new-page"
