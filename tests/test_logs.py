"""What the service writes to its logs: never a client address, user agent, report text or receipt.

The formatter and the access log here, in one process; tests/test_logs_canary.py runs the real
commands and looks at everything they wrote.
"""

from __future__ import annotations

import asyncio
import io
import logging
import subprocess
import sys

from aiohttp import web
from aiohttp.test_utils import TestServer

from frontdoor.app import create_app
from frontdoor.logs import VETTED, AccessLogger, SafeFormatter, safe_message

CANARY_TEXT = "placeholder-canary-text-5150"


async def test_access_log_has_no_address_agent_or_path_parameters(aiohttp_client, settings, redis, redis_url, caplog):
    app = create_app(settings, redis_url, housekeeping=False)
    server = TestServer(app)
    await server.start_server(access_log_class=AccessLogger)  # as `frontdoor serve` runs it
    client = await aiohttp_client(server)
    caplog.set_level(logging.INFO)
    r = await client.post("/api/v1/reports", json={"category": "other", "description": CANARY_TEXT},
                          headers={"User-Agent": "CanaryAgent/9.9", "X-Forwarded-For": "198.51.100.77"})
    receipt = (await r.json())["receipt"]
    await client.get(f"/api/v1/receipts/{receipt}")
    access = [rec.getMessage() for rec in caplog.records if rec.name == "frontdoor.access"]
    assert any("POST /api/v1/reports 201" in line for line in access)
    assert any("GET /api/v1/receipts/{code} 200" in line for line in access)
    everything = "\n".join(rec.getMessage() for rec in caplog.records)
    for secret in ("127.0.0.1", "CanaryAgent", "198.51.100.77", receipt, CANARY_TEXT):
        assert secret not in everything, secret


async def test_an_unexpected_error_is_a_json_500_that_logs_no_request_text(aiohttp_client, settings, redis_url, caplog):
    app = create_app(settings, redis_url, housekeeping=False)

    async def broken(request: web.Request) -> web.Response:
        body = await request.text()
        raise ValueError(f"could not handle {body}")

    app.router.add_post("/broken", broken)
    client = await aiohttp_client(app)
    r = await client.post("/broken", data=CANARY_TEXT)
    assert r.status == 500
    assert (await r.json())["error"] == "internal"
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    assert "unhandled ValueError on POST /broken" in logged
    assert CANARY_TEXT not in logged and CANARY_TEXT not in await r.text()


def _record(name: str, msg: object, *args: object, exc: BaseException | None = None,
            level: int = logging.ERROR) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord(name, level, "/lib/somewhere.py", 12, msg, args, exc_info)


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_aiohttp_error_handling_request_is_one_fixed_line_without_address_or_request() -> None:
    exc = _raised(ValueError(f"Invalid header value: {CANARY_TEXT}"))
    line = SafeFormatter().format(_record("aiohttp.server", "Error handling request from %s", "198.51.100.77", exc=exc))
    assert line.endswith("ERROR aiohttp.server malformed request from a client: ValueError")
    assert "198.51.100.77" not in line and CANARY_TEXT not in line and "Traceback" not in line


def test_aiosmtpd_lines_keep_neither_peer_nor_sender() -> None:
    peer = ("127.0.0.23", 40000)
    for template, args, says in (("%r sender: %s", (peer, "canary@example.com"), "smtp: envelope sender given"),
                                 ("%r >> %r", (peer, b"MAIL FROM:<canary@example.com>"), "smtp: command received"),
                                 ("Peer: %r", (peer,), "smtp: a client connected")):
        line = SafeFormatter().format(_record("mail.log", template, *args, level=logging.INFO))
        assert line.endswith(f"INFO mail.log {says}"), line
        assert "canary" not in line and "127.0.0.23" not in line


def test_an_unforeseen_library_record_says_only_where_it_came_from() -> None:
    message, exc = safe_message(_record("rasa_sdk.forms", f"Validating extracted slots: {CANARY_TEXT}"))
    assert message == "(message withheld, from somewhere:12)" and exc is None
    message, _ = safe_message(_record("rasa_sdk.endpoint", _raised(KeyError(CANARY_TEXT))))  # a message that is an object
    assert CANARY_TEXT not in message


def test_no_exception_message_is_printed_from_anywhere_ours_included() -> None:
    try:
        try:
            raise KeyError(CANARY_TEXT)
        except KeyError as inner:
            raise RuntimeError(f"while handling {CANARY_TEXT}") from inner
    except RuntimeError as exc:
        ours = SafeFormatter().format(_record("frontdoor.app", "housekeeping failed", exc=exc))
        theirs = SafeFormatter().format(_record("asyncio", "Task exception was never retrieved\nfuture: <Task %s>",
                                                CANARY_TEXT, exc=exc))
    for line in (ours, theirs):
        assert CANARY_TEXT not in line
        assert "builtins.KeyError" in line and "which led to:" in line and "builtins.RuntimeError" in line
        assert 'File "' in line and "test_no_exception_message_is_printed" in line  # the frames stay
    assert ours.splitlines()[0].endswith("ERROR frontdoor.app housekeeping failed")
    assert "a task's exception was never retrieved: RuntimeError" in theirs


def test_every_vetted_sentence_is_fixed_text() -> None:
    rules = [rule for rules in VETTED.values() for rule in rules]
    assert len(rules) > 50
    for rule in rules:
        assert "%" not in rule.says and rule.says.replace("{exc}", "").count("{") == 0, rule


def test_configure_leaves_one_handler_and_takes_over_what_libraries_installed() -> None:
    script = """
import logging, sys, warnings
logging.getLogger("aiohttp.access").addHandler(logging.StreamHandler(sys.stderr))  # as aiohttp in debug mode
logging.getLogger("sanic.root").propagate = False                                 # as rasa-sdk's __main__
from frontdoor import logs
logs.configure("DEBUG")
logging.getLogger("aiohttp.access").info("GET /api/v1/receipts/%s", "CANARY")
logging.getLogger("sanic.root").info("Received signal SIGTERM from %s", "CANARY")
warnings.warn("CANARY in a warning")
raise ValueError("CANARY uncaught")
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "CANARY" not in run.stderr + run.stdout, run.stderr
    lines = run.stderr.splitlines()
    assert any(line.endswith("INFO sanic.root action server: stopping on a signal") for line in lines), lines
    assert sum("aiohttp.access" in line for line in lines) == 1  # once: through the root handler only
    assert any("CRITICAL frontdoor uncaught ValueError" in line for line in lines)
    assert any("py.warnings a Python warning" in line for line in lines)


async def test_access_log_never_raises_and_says_dash_for_a_malformed_request(settings, redis_url, caplog):
    app = create_app(settings, redis_url, housekeeping=False)
    server = TestServer(app)
    await server.start_server(access_log_class=AccessLogger)
    caplog.set_level(logging.DEBUG)
    try:
        for raw in (b"GET /api/v1/receipts/CNRY0-RECPT HTTP/1.1\r\nHost: x\r\nUser-Agent: Canary\x01Agent\r\n\r\n",
                    b"CANARYMETHOD /api/v1/reports HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET /\x00canary HTTP/1.1\r\n\r\n"):
            reader, writer = await asyncio.open_connection(server.host, server.port)
            writer.write(raw)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            assert answer.split(b" ")[1] == b"400", answer[:80]
    finally:
        await server.close()
    access = [rec for rec in caplog.records if rec.name == "frontdoor.access"]
    assert len(access) == 3 and all(rec.getMessage().startswith("- - 400 ") for rec in access), \
        [rec.getMessage() for rec in access]
    formatted = "\n".join(SafeFormatter().format(rec) for rec in caplog.records)
    assert "AssertionError" not in formatted
    for secret in ("CNRY0", "Canary", "CANARY", "canary", "127.0.0.1"):
        assert secret not in formatted, (secret, formatted)
