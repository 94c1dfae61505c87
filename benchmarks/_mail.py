"""The mail email_bench.py sends, how its clients send it, and inputs built to be slow to parse.

Apart from the benchmark so that its measuring reads without a page of prose and socket handling
in the middle.
"""

from __future__ import annotations

import contextlib
import smtplib
import threading
import time
from typing import Any

from harness import ms, rate

REPORT_TO = "report@hotline.example"


# A plain-text report as a member of the public might write it: neutral prose, one link, a signature.
# Reserved domains only. @@ID@@, @@FROM@@ and @@URL@@ are filled in per message; CRLF on the wire.
_BODY = """Hello,

I would like to report a web page that I came across this afternoon. I was
looking for something else entirely when a search result led me to a site I
had never visited before, and one of its gallery pages did not look right to
me at all. I closed it straight away and did not download anything from it.

The address of the page is:

@@URL@@

As far as I can tell the page is part of a larger site with a lot of similar
galleries. The page itself had no contact details and no information about
who runs it. There was a banner at the top in a language I do not read, and
the rest of the page was a grid of thumbnails with short captions under each
of them. Some of the captions mentioned ages, which is what made me worried.

I am not sure whether the material is illegal, and I did not look at it long
enough to say more than this. I would rather someone who knows what they are
looking at checks it than ignore it. I understand you may not be able to tell
me the outcome, and that is fine.

A few more details in case they help:

- I visited the page at about half past three this afternoon (local time).
- I reached it from a search engine, not from a link someone sent me.
- The page loaded over https and my browser showed no warning about it.
- I did not create an account or log in anywhere on that site.
- I have not shared the address with anyone other than you.

If you need anything else from me, please reply to this e-mail. I would
prefer not to be contacted by phone. Thank you for the work that you do; I
did not know where else to send this and a friend pointed me to your form
and this address.

Kind regards,
A member of the public

--
Sent from a desktop mail client
"""


def message_template() -> bytes:
    headers = [
        "Received: from client.example.net (client.example.net [192.0.2.10])",
        "\tby mx.hotline.example with ESMTPS; Mon, 3 Jun 2024 15:41:07 +0000",
        "From: Reporter <@@FROM@@>",
        f"To: Hotline reports <{REPORT_TO}>",
        "Subject: Report of a web page I found today",
        "Date: Mon, 3 Jun 2024 15:41:02 +0000",
        "Message-ID: <@@ID@@>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8; format=flowed",
        "Content-Transfer-Encoding: 7bit",
        "Content-Language: en-GB",
        "User-Agent: Example Mail 1.0",
    ]
    return ("\r\n".join(headers) + "\r\n\r\n" + _BODY.replace("\n", "\r\n")).encode("ascii")


TEMPLATE = message_template()


def make_message(tag: str, n: int) -> tuple[str, bytes]:
    """The envelope sender and the bytes of message n of a phase: unique Message-ID, sender and link."""
    sender = f"reporter-{tag}-{n}@example.org"
    raw = (TEMPLATE.replace(b"@@ID@@", f"{tag}.{n}@client.example.net".encode())
           .replace(b"@@FROM@@", sender.encode())
           .replace(b"@@URL@@", f"https://example.com/gallery/{tag}/{n}?page=2".encode()))
    return sender, raw


def send_phase(port: int, clients: int, tag: str, seconds: float, max_messages: int) -> dict[str, Any]:
    """`clients` threads, each with its own smtplib connection (EHLO once), sending message after message
    (MAIL, RCPT, DATA) for `seconds`. Latency: from sending MAIL to reading the reply to the data."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    refused: dict[str, int] = {}
    errors: list[str] = []
    issued = iter(range(max_messages))
    lock = threading.Lock()
    deadline = [0.0, 0.0]  # began, deadline: set by the barrier's action, before any client is released

    def go() -> None:
        deadline[0] = time.perf_counter()
        deadline[1] = deadline[0] + seconds

    start = threading.Barrier(clients + 1, action=go)

    def client(k: int) -> None:
        mine = latencies[k]
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as conn:
                conn.ehlo(f"client-{k}.example.net")
                start.wait()
                while time.perf_counter() < deadline[1]:
                    with lock:
                        n = next(issued, None)
                    if n is None:
                        break
                    sender, raw = make_message(tag, n)
                    t0 = time.perf_counter()
                    code, _ = conn.mail(sender)
                    if code == 250:
                        code, _ = conn.rcpt(REPORT_TO)
                    if code == 250:
                        code, _ = conn.data(raw)
                        if code == 250:
                            mine.append(time.perf_counter() - t0)
                            continue
                    else:
                        conn.rset()
                    with lock:
                        refused[str(code)] = refused.get(str(code), 0) + 1
                conn.quit()
        except (OSError, smtplib.SMTPException, threading.BrokenBarrierError) as exc:
            with lock:
                errors.append(f"client {k}: {type(exc).__name__}: {exc}"[:300])
            with contextlib.suppress(threading.BrokenBarrierError):
                start.abort()

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    try:
        start.wait(timeout=30)
    except threading.BrokenBarrierError:
        deadline[0] = time.perf_counter()
    for t in threads:
        t.join(timeout=seconds + 60)
    wall = time.perf_counter() - deadline[0]
    every = [t for per in latencies for t in per]
    if errors or not every:
        raise RuntimeError(f"phase {tag}: {len(every)} accepted; errors: {errors[:3]}; refused: {refused}")
    return {"accepted": len(every), "refused": refused, "wall_s": round(wall, 3), "emails_per_s": rate(len(every), wall),
            "latency_ms": ms(every)}


def hostile_messages(size: int) -> dict[str, bytes]:
    """Messages built to make a parser do quadratic work, `size` bytes of payload each."""
    def eml(body: str, content_type: str = "text/plain; charset=utf-8") -> bytes:
        head = f"From: <a@example.org>\nTo: report@hotline.example\nSubject: x\nContent-Type: {content_type}\n\n"
        return (head + body).replace("\n", "\r\n").encode()

    depth = size // 100
    return {
        "html-comments": eml("<!--" * (size // 4), "text/html"),
        "html-end-tags": eml("</" * (size // 2), "text/html"),
        "html-open-quotes": eml('<a x="' * (size // 6), "text/html"),
        "url-closers": eml("https://a.example/" + ")" * size),
        "param-semicolons": eml("x", 'text/plain; a="' + ";" * size + '"'),
        "punycode": eml("a-" + "9" * size, "text/plain; charset=punycode"),
        "nesting": eml("".join(f'--n{i}\nContent-Type: multipart/mixed; boundary="n{i + 1}"\n\n' for i in range(depth)),
                       'multipart/mixed; boundary="n0"'),
    }


def hostile_inputs() -> dict[str, Any]:
    from frontdoor.channels.email import parse as mailparse

    def parse_ms(raw: bytes) -> float:
        started = time.perf_counter()
        try:
            mailparse.parse_mail(raw, envelope_from="a@example.org")
        except mailparse.MailRejected:
            pass
        return (time.perf_counter() - started) * 1000

    mib = 1024 * 1024
    one, two = hostile_messages(mib), hostile_messages(2 * mib)
    out: dict[str, Any] = {}
    for name in one:
        ms1, ms2 = min(parse_ms(one[name]) for _ in range(2)), min(parse_ms(two[name]) for _ in range(2))
        out[name] = {"ms_1_mib": round(ms1, 1), "ms_2_mib": round(ms2, 1), "growth": round(ms2 / max(ms1, 0.001), 2)}
    out["linear"] = all(v["growth"] < 3 for v in out.values() if isinstance(v, dict))
    return out
