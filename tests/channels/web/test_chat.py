"""The web channel over real HTTP: the conversation API, CORS, headers, rate limits, /report."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from frontdoor.app import create_app
from frontdoor.queue import TriageQueue

JSON = {"Content-Type": "application/json"}
MAIN_PATH = ["report", "csam", "https://example.com/web-page", "website", "skip", "no", "other_adult", "skip", "skip", "send"]


@pytest.fixture
async def web(aiohttp_client, settings, redis, redis_url):  # type: ignore[no-untyped-def]
    settings = replace(settings, web=replace(settings.web, origins=("https://www.hotline.example",)))
    return await aiohttp_client(create_app(settings, redis_url, housekeeping=False))


async def start(web, **body):  # type: ignore[no-untyped-def]
    r = await web.post("/api/v1/conversations", json=body)
    assert r.status == 201, await r.text()
    return await r.json()


async def say(web, token, **body):  # type: ignore[no-untyped-def]
    return await web.post(f"/api/v1/conversations/{token}/messages", json=body)


async def test_a_report_through_the_conversation_api(web, redis):
    started = await start(web, locale="en")
    token = started["conversation"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert started["state"] == "open" and started["messages"][-1]["expects"] == "choice"
    for answer in MAIN_PATH:
        r = await say(web, token, payload=answer)
        assert r.status == 200
        body = await r.json()
        assert set(body) == {"messages", "state", "receipt", "locale"}
        for m in body["messages"]:
            assert set(m) == {"text", "quick_replies", "expects", "resources"}
    assert body["state"] == "submitted" and re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}", body["receipt"])
    assert await TriageQueue(redis).receipt_status(body["receipt"]) == "received"
    async for key in redis.scan_iter("*"):  # the token is the only key to the conversation: never stored
        assert token not in key
        if await redis.type(key) == "string":
            assert token not in (await redis.get(key) or "")


async def test_language_from_body_or_accept_language(web):
    assert (await start(web, locale="fr"))["locale"] == "fr"
    r = await web.post("/api/v1/conversations", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert r.status == 201 and (await r.json())["locale"] == "de"


async def test_unknown_or_expired_conversation_is_404_telling_to_start_over(web):
    for token in ("x" * 43, "not-a-token", "A" * 200):
        r = await say(web, token, text="hello")
        assert r.status == 404
        body = await r.json()
        assert body["error"] == "conversation_not_found" and "start a new one" in body["message"]


@pytest.mark.parametrize("body, headers, status", [
    ('{"text": "hi"', JSON, 400),
    ('{"text": "hi", "payload": "report"}', JSON, 400),
    ('{"text": 5}', JSON, 400),
    ('{"other": "x"}', JSON, 400),
    ('[]', JSON, 400),
    ('{"text": "hi"}', {"Content-Type": "text/plain"}, 415),
    ('{"text": "' + "x" * 70_000 + '"}', JSON, 413),
    ('{"text": "' + "x" * 10_001 + '"}', JSON, 400),
])
async def test_bad_messages_are_4xx_json(web, body, headers, status):
    token = (await start(web))["conversation"]
    r = await web.post(f"/api/v1/conversations/{token}/messages", data=body, headers=headers)
    assert r.status == status
    assert set(await r.json()) == {"error", "message"}
    r = await say(web, token, payload="report")  # the conversation survived the bad request
    assert r.status == 200


async def test_start_rejects_unknown_fields(web):
    r = await web.post("/api/v1/conversations", json={"locale": "en", "name": "x"})
    assert r.status == 400 and (await r.json())["error"] == "invalid_field"


async def test_cors_only_for_configured_origins(web):
    ok = {"Origin": "https://www.hotline.example"}
    r = await web.options("/api/v1/conversations", headers={**ok, "Access-Control-Request-Method": "POST"})
    assert r.status == 204 and r.headers["Access-Control-Allow-Origin"] == ok["Origin"]
    r = await web.post("/api/v1/conversations", json={}, headers=ok)
    assert r.headers["Access-Control-Allow-Origin"] == ok["Origin"] and "Origin" in r.headers["Vary"]
    evil = {"Origin": "https://elsewhere.example"}
    r = await web.options("/api/v1/conversations", headers={**evil, "Access-Control-Request-Method": "POST"})
    assert r.status == 403 and "Access-Control-Allow-Origin" not in r.headers
    r = await web.post("/api/v1/conversations", json={}, headers=evil)
    assert "Access-Control-Allow-Origin" not in r.headers


@pytest.mark.parametrize("path", ["/", "/widget.js", "/widget.css", "/report", "/api/v1/openapi.json", "/healthz"])
async def test_security_headers_everywhere(web, path):
    r = await web.get(path)
    assert r.status == 200
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["Referrer-Policy"] == "no-referrer"


async def test_widget_files_are_cacheable_and_embeddable(web):
    r = await web.get("/widget.js")
    assert r.headers["Content-Type"].startswith("text/javascript") and r.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    again = await web.get("/widget.js", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status == 304


async def test_rate_limit_answers_429_with_retry_after(aiohttp_client, settings, redis, redis_url):
    app = create_app(replace(settings, web=replace(settings.web, messages_per_min=3, conversations_per_min=2)), redis_url, housekeeping=False)
    web = await aiohttp_client(app)
    token = (await start(web))["conversation"]
    statuses = [(await say(web, token, payload="report")).status for _ in range(4)]
    assert statuses[:3] == [200, 200, 200] and statuses[3] == 429
    r = await say(web, token, payload="report")
    assert 0 < int(r.headers["Retry-After"]) <= 60
    assert (await r.json())["error"] == "rate_limited"
    await start(web)
    assert (await web.post("/api/v1/conversations", json={})).status == 429
    async for key in redis.scan_iter("fd:{rl:*"):  # the counter's key holds no address
        assert "127.0.0.1" not in key and 0 < await redis.ttl(key) <= 120


async def test_messages_refused_before_any_write_count_too(aiohttp_client, settings, redis, redis_url):
    """A message is counted when it is admitted: a request that fails before writing anything counts too."""
    web = await aiohttp_client(create_app(replace(settings, web=replace(settings.web, messages_per_min=2)), redis_url, housekeeping=False))
    token = (await start(web))["conversation"]
    assert (await say(web, token, nonsense="x")).status == 400
    assert (await say(web, "A" * 43, payload="report")).status == 404  # no such conversation
    assert (await say(web, token, payload="report")).status == 429


async def test_report_form_validates_inline_and_submits(web, redis):
    r = await web.get("/report?lang=de")
    page = await r.text()
    assert r.status == 200 and '<html lang="de">' in page and 'name="category"' in page and "<script" not in page
    r = await web.post("/report", data={"lang": "en", "category": "csam", "urls": "not a link", "contact": "x@example.com"})
    page = await r.text()
    assert r.status == 400
    assert 'id="urls-error"' in page and 'aria-invalid="true"' in page and 'id="contact-error"' in page
    assert 'id="role-error"' in page and "not a link" in page  # answers are kept
    r = await web.post("/report", data={"lang": "en", "category": "grooming", "platform": "Example Game", "account": "player_9",
                                        "where_seen": "game", "danger": "no", "role": "parent_carer", "country": "DE",
                                        "when_seen": "today", "contact_consent": "yes", "contact": "reach@example.org"})
    page = await r.text()
    assert r.status == 200
    receipt = re.search(r'id="receipt">([0-9A-Z]{5}-[0-9A-Z]{5})<', page).group(1)
    queue = TriageQueue(redis)
    assert await queue.receipt_status(receipt) == "received"
    case = await queue.get(await queue.claim("a"))
    report = case["reports"][0]
    assert report["channel"] == "web_form" and report["where_seen"]["account"] == "player_9"
    assert report["reporter_country"] == "DE" and report["contact"] is not None
    assert page.count('class="resource"') <= 3


def test_a_turn_is_written_as_message_as_dict_says() -> None:
    """The API's reply passes the Message dataclasses to orjson as they are (channels/web._body):
    the JSON must be what Message.as_dict, the documented shape, gives."""
    import orjson

    from frontdoor.http.errors import json_reply
    from frontdoor.channels.web.chat import _body
    from frontdoor.dialog.messages import Message, QuickReply, ResourceCard, Turn

    card = ResourceCard("Helpline", "Free and confidential.", "https://example.com/help", "0800 000 000", "tel:+440800000000")
    turn = Turn([Message("Pick one", (QuickReply("Yes", "yes"), QuickReply("No", "no")), "choice", (card,)),
                 Message("Plain")], status="submitted", receipt="ABCDE-FGHJK", locale="de")
    body = json_reply(_body(turn)).body
    assert isinstance(body, bytes)
    assert orjson.loads(body) == {"messages": [m.as_dict() for m in turn.messages], "state": "submitted",
                                  "receipt": "ABCDE-FGHJK", "locale": "de"}
