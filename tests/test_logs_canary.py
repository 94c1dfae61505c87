"""Canary values through every entry point of the real processes, with every logger at DEBUG and
asyncio in debug mode: none may come out in what `frontdoor serve` and `frontdoor actions` wrote,
and none may sit in Redis outside the encrypted fields and the report's own redacted content.

Statuses are not the point here (tests elsewhere own them): a malformed request may be answered
400 or, until its fix, 500; what is checked is the output and the data.
"""

from __future__ import annotations

import http.client
import json
import os
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import redis.asyncio as aioredis

from support import REPO
from support.rasa import action_call
from support.servers import free_port

SOURCE = "127.0.0.23"  # a loopback address of its own: the client's socket address, as a canary
EMAIL = "canary.reporter@example.com"
PHONE = "+44 20 7946 0958"
FORWARDED = "198.51.100.77"
AGENT = "CanaryAgent/5.1 (canary-agent)"
BEARER = "canary-bearer-token-5150"
DESCRIPTION = "canary-description-5150"
URL = "https://example.com/canary-url-5150"
GUESSED_RECEIPT = "CNRY0-RECPT"
TEXT = f"I saw it at {URL}. {DESCRIPTION}. Write to {EMAIL} or call {PHONE}."
HEADERS = {"User-Agent": AGENT, "X-Forwarded-For": FORWARDED, "Authorization": f"Bearer {BEARER}"}

# Never anywhere: not in any output, key or value.
NOWHERE = [EMAIL, "7946 0958", "79460958", FORWARDED, SOURCE, "CanaryAgent", "canary-agent", BEARER, GUESSED_RECEIPT,
           GUESSED_RECEIPT.replace("-", "")]
# Not in any output; in Redis only in a report's (or its case's) own fields.
NOT_LOGGED = [DESCRIPTION, "canary-url-5150"]
SECRET = "canary-test-secret-" + "s" * 21
ACTIONS_TOKEN = "canary-actions-token-" + "a" * 19


class Server:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "frontdoor", *args], env=env, cwd=log.parent,
                                     stdout=self._out, stderr=subprocess.STDOUT)

    def wait(self, port: int, path: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text(errors="replace")[-2000:]
            try:
                status, _ = request(port, "GET", path, source=None)
                if status == 200:
                    return
            except OSError:  # not listening yet
                pass
            time.sleep(0.2)
        pytest.fail(f"no answer on {path}: {self.log.read_text(errors='replace')[-2000:]}")

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        return self.log.read_text(errors="replace")


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
            source: str | None = SOURCE) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, body=body, headers={**HEADERS, **(headers or {})})
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def post_json(port: int, path: str, data: Any) -> tuple[int, Any]:
    status, raw = request(port, "POST", path, json.dumps(data).encode(), {"Content-Type": "application/json"})
    return status, json.loads(raw or b"null")


def raw(port: int, data: bytes, *, read: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(SOURCE, 0)) as sock:
        try:
            sock.sendall(data)
            return sock.recv(65536) if read else b""
        except OSError:  # the server closed early (a body past the limit): what it logged is the point
            return b""


@pytest.fixture
def servers(redis: aioredis.Redis, redis_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDOOR_")}
    web, smtp, actions = free_port(), free_port(), free_port()
    env.update(FRONTDOOR_REDIS_URL=redis_url, FRONTDOOR_SECRET_KEY=SECRET, FRONTDOOR_DATA_DIR=str(tmp_path / "data"),
               FRONTDOOR_LOG_LEVEL="DEBUG", FRONTDOOR_SMTP_PORT=str(smtp), FRONTDOOR_TRUST_FORWARDED_FOR="true",
               FRONTDOOR_ALLOW_VOLATILE_REDIS="1", FRONTDOOR_ACTIONS_TOKEN=ACTIONS_TOKEN, PYTHONASYNCIODEBUG="1",
               PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p))
    serve = Server(["serve", "--port", str(web)], env, tmp_path / "serve.log")
    action_server = Server(["actions", "--port", str(actions)], env, tmp_path / "actions.log")
    try:
        serve.wait(web, "/readyz")
        action_server.wait(actions, "/health")
        yield {"web": web, "smtp": smtp, "actions": actions, "serve": serve, "action_server": action_server}
    finally:
        serve.stop()
        action_server.stop()


def through_the_api(port: int) -> list[str]:
    status, body = post_json(port, "/api/v1/reports", {"category": "csam", "urls": [URL], "description": TEXT,
                                                        "contact": EMAIL, "contact_consent": True})
    assert status == 201, body
    receipt = body["receipt"]
    assert request(port, "GET", f"/api/v1/receipts/{receipt}")[0] == 200
    assert request(port, "GET", f"/api/v1/receipts/{GUESSED_RECEIPT}")[0] == 404
    assert request(port, "POST", "/api/v1/reports", b'{"description": "' + TEXT.encode(),
                   {"Content-Type": "application/json"})[0] == 400
    deep = b'{"category": "csam", "description": ' + b"[" * 5000 + TEXT.encode() + b"]" * 5000 + b"}"
    assert request(port, "POST", "/api/v1/reports", deep, {"Content-Type": "application/json"})[0] in (400, 500)
    big = b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\n"
    raw(port, big + f"User-Agent: {AGENT}\r\n\r\n".encode() + (TEXT.encode() * 170_000)[:10 * 1024 * 1024], read=False)
    for bad in (f"GET /api/v1/receipts/{receipt} HTTP/1.1\r\nHost: x\r\nUser-Agent: {AGENT}\x01{EMAIL}\r\n\r\n",
                f"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {BEARER}\x00\r\n\r\n",
                f"{EMAIL} /api/v1/receipts/{GUESSED_RECEIPT} HTTP/1.1\r\nX-Forwarded-For: {FORWARDED}\r\n\r\n",
                f"GET /api/v1/receipts/{receipt}\x7f{PHONE} HTTP/1.1\r\n\r\n"):
        assert raw(port, bad.encode("latin-1")).split(b" ")[1:2] == [b"400"]
    assert request(port, "GET", "/api/v1/analyst/cases")[0] == 401  # the canary bearer token
    return [receipt, receipt.replace("-", "")]


def through_the_chat(port: int) -> list[str]:
    status, started = post_json(port, "/api/v1/conversations", {"locale": "en"})
    assert status == 201, started
    token = started["conversation"]
    body = started
    for _ in range(25):
        if body["state"] != "open":
            break
        asked = body["messages"][-1]
        expects = asked["expects"]
        if expects == "choice" and asked["quick_replies"]:
            answer = {"payload": asked["quick_replies"][0]["payload"]}
        else:
            answer = {"text": {"url": URL, "yes_no": "no", "country": "skip"}.get(expects, TEXT)}
        status, body = post_json(port, f"/api/v1/conversations/{token}/messages", answer)
        assert status == 200, body
    assert body["state"] == "submitted", body
    assert request(port, "POST", f"/api/v1/conversations/{token}/messages", b"{not json " + TEXT.encode(),
                   {"Content-Type": "application/json"})[0] == 400
    return [token, body["receipt"], body["receipt"].replace("-", "")]


def through_the_form(port: int) -> None:
    encoded = urlencode({"category": "csam", "urls": URL, "where_seen": "website", "danger": "no", "role": "other_adult",
                         "description": TEXT, "contact_consent": "yes", "contact": EMAIL, "lang": "en"})
    status, page = request(port, "POST", "/report", encoded.encode(), {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200, page[-3000:]
    assert request(port, "POST", "/report", TEXT.encode(), {"Content-Type": "multipart/form-data"})[0] in (400, 500)
    broken = f"--b\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\n{TEXT}\r\n--b".encode()
    assert request(port, "POST", "/report", broken, {"Content-Type": "multipart/form-data; boundary=b"})[0] in (400, 500)


def through_the_receipt_page(port: int, receipts: list[str]) -> None:
    """The no-JavaScript receipt page (/receipt) looks the codes up: posted codes are not logged either."""
    for code in [*receipts, GUESSED_RECEIPT]:
        body = urlencode({"code": code, "lang": "en"}).encode()
        status, page = request(port, "POST", "/receipt", body, {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == (404 if code == GUESSED_RECEIPT else 200), page[-2000:]


def through_email(port: int) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = f"Canary Reporter <{EMAIL}>", "report@localhost", DESCRIPTION
    message["Message-ID"] = "<canary-message-5150@example.com>"
    message.set_content(TEXT)
    with smtplib.SMTP("127.0.0.1", port, timeout=30, source_address=(SOURCE, 0)) as smtp:
        assert not smtp.send_message(message)
    session = (f"EHLO canary.example.com\r\nMAIL FROM:<{EMAIL}>\r\nRCPT TO:<report@localhost>\r\nDATA\r\n"
               f"From: {EMAIL}\r\nSubject: {DESCRIPTION}\r\n\r\n{TEXT}\r\n").encode()
    raw(port, session)  # and then the connection breaks off, mid-DATA
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(SOURCE, 0)) as sock:
        sock.recv(1024)
        for line in (f"CANARY {EMAIL}\r\n", f"MAIL FROM:<{EMAIL}> CANARY={PHONE}\r\n", f"RCPT TO:<{EMAIL}>\r\n",
                     "QUIT\r\n"):
            sock.sendall(line.encode())
            sock.recv(1024)


def through_the_action_server(port: int) -> None:
    slots = {"path": "report", "category": "csam", "urls": [{"original": URL, "normalized": URL}],
             "where_seen": "website", "description": TEXT, "danger": False, "role": "other_adult", "country": "",
             "when_seen": "", "confirm": "send", "url_tries": 0}
    auth = {"Authorization": f"Bearer {ACTIONS_TOKEN}", "Content-Type": "application/json"}
    for call in (action_call("validate_report_form", {**slots, "description": None}, TEXT, "description"),
                 action_call("action_submit_report", slots), action_call(f"action_{DESCRIPTION}", slots, TEXT)):
        assert request(port, "POST", "/webhook", json.dumps(call).encode(), auth)[0] in (200, 404)
    assert request(port, "POST", "/webhook", b"{" + TEXT.encode(), auth)[0] in (400, 500)
    assert request(port, "POST", "/webhook", json.dumps(action_call("action_submit_report", slots)).encode(),
                   {"Content-Type": "application/json"})[0] == 401  # the canary bearer, not the shared token


async def everything_in(redis: aioredis.Redis) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    async for key in redis.scan_iter(count=1000):
        name = key.decode(errors="replace")
        kind = (await redis.type(key)).decode()
        if kind == "string":
            value = repr(await redis.get(key))
        elif kind == "hash":
            value = repr(await redis.hgetall(key))
        elif kind == "list":
            value = repr(await redis.lrange(key, 0, -1))
        elif kind == "set":
            value = repr(await redis.smembers(key))
        elif kind == "zset":
            value = repr(await redis.zrange(key, 0, -1, withscores=True))
        else:
            value = repr(await redis.xrange(key))
        found[name] = value.encode()
    return found


async def test_no_canary_in_any_output_nor_outside_the_report(servers: dict[str, Any], redis_url: str) -> None:
    receipts = through_the_api(servers["web"])
    token, *chat_receipts = through_the_chat(servers["web"])
    receipts += chat_receipts
    through_the_form(servers["web"])
    through_the_receipt_page(servers["web"], receipts)
    through_email(servers["smtp"])
    through_the_action_server(servers["actions"])
    time.sleep(1.5)  # the outbox's first attempt at the e-mail's auto-reply, and whatever it logs

    client = aioredis.Redis.from_url(redis_url)
    try:
        stored = await everything_in(client)
    finally:
        await client.aclose()
    output = {name: servers[name].stop() for name in ("serve", "action_server")}
    for name, text in output.items():
        assert " DEBUG " in text, text[-2000:]  # every logger was heard at DEBUG
        lowered = text.lower()
        for canary in NOWHERE + NOT_LOGGED + receipts + [token]:
            at = lowered.find(canary.lower())
            assert at < 0, f"{canary!r} in the output of {name}: ...{text[max(0, at - 300):at + 200]}"
    assert len(stored) > 10
    for key, value in stored.items():
        for canary in NOWHERE + NOT_LOGGED + [token]:  # a receipt is a key by design (storage/keys.py)
            assert canary not in key, key
        for canary in NOWHERE + [token]:
            assert canary.encode() not in value, (key, canary, value[:300])
        # A report's own fields: its key, its case's, and the copy the conversation's state holds while it
        # is queued (docs/architecture.md, the dialog), under the conversation's pseudonym and idle TTL.
        if not any(part in key for part in (":report:", ":case:", "}:state")):
            for canary in NOT_LOGGED:
                assert canary.encode() not in value, (key, canary, value[:300])
