"""The no-JavaScript receipt page (`/receipt`) over real HTTP on a real Redis: the status of a real
report in plain words and in the reporter's language, one answer for unknown and malformed codes, the
API's limits (per client, and the pace of all clients) with a page a person can read when they say
no, and the links that lead here from the form."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from typing import Any

import pytest
from markupsafe import escape

from frontdoor import ids
from frontdoor.app import create_app
from frontdoor.dialog import i18n
from support.api import ANALYST_PREFIX, assert_error, ok_json

FORM = {"lang": "en", "category": "csam", "urls": "https://example.com/receipt-page", "where_seen": "website",
        "danger": "no", "role": "other_adult"}
MISSING = "ABCDE-FGHJK"  # well-formed, and no report has it


def limited(settings: Any, **web: Any) -> Any:
    return replace(settings, web=replace(settings.web, **web))


@pytest.fixture
async def web(aiohttp_client, settings, redis, redis_url):  # type: ignore[no-untyped-def]
    return await aiohttp_client(create_app(settings, redis_url, housekeeping=False))


def said(locale: str, key: str, **values: Any) -> str:
    """A sentence as the page carries it (autoescaped as Jinja does)."""
    return str(escape(i18n.text(locale, key, **values)))


async def report_through_the_form(web: Any, lang: str = "en") -> tuple[str, str]:
    """(the receipt code, the receipt page) of a report sent with the no-JS form."""
    r = await web.post("/report", data={**FORM, "lang": lang})
    page = await r.text()
    assert r.status == 200, page[:500]
    code = re.search(r'id="receipt">([0-9A-Z]{5}-[0-9A-Z]{5})<', page)
    assert code, page[:500]
    return code.group(1), page


async def look_up(web: Any, code: str, lang: str | None = "en", **headers: str) -> tuple[int, str, Any]:
    data = {"code": code} if lang is None else {"code": code, "lang": lang}
    r = await web.post("/receipt", data=data, headers=headers)
    return r.status, await r.text(), r


async def test_the_form_page_and_the_receipt_page_link_to_it_and_it_shows_a_form(web):
    form = await (await web.get("/report?lang=de")).text()
    assert 'href="/receipt?lang=de"' in form
    code, done = await report_through_the_form(web, "fr")
    assert 'href="/receipt?lang=fr"' in done and said("fr", "receipt.link") in done
    r = await web.get("/receipt?lang=fr")
    page = await r.text()
    assert r.status == 200 and r.content_type == "text/html"
    assert r.headers["Cache-Control"] == "no-store"
    assert '<html lang="fr">' in page and said("fr", "receipt.title") in page
    assert '<form method="post" action="/receipt"' in page and 'name="code"' in page
    assert ids.RECEIPT_EXAMPLE in page
    assert code not in page


@pytest.mark.parametrize("typed", ["{code}", "{lower}", "  {spaced}  "])
async def test_the_status_of_a_real_report(web, typed):
    code, _ = await report_through_the_form(web)
    variant = typed.format(code=code, lower=code.lower(), spaced=code.replace("-", " "))
    status, page, r = await look_up(web, variant)
    assert status == 200, page[:500]
    assert r.headers["Cache-Control"] == "no-store"
    assert 'data-status="received"' in page
    assert said("en", "receipt_status.received") in page and said("en", "receipt.more.received") in page
    assert said("en", "receipt.result_title", receipt=code) in page  # the code as we write it
    assert said("en", "receipt.not_found", example=ids.RECEIPT_EXAMPLE) not in page


async def test_each_status_the_api_tells_the_page_tells_in_plain_words(web, add_analyst):
    """The page and the API (GET /api/v1/receipts/{code}) agree at every step of a case's life."""
    headers = await add_analyst("alice")
    seen = []

    async def same_as_the_api(code: str) -> None:
        api_status = (await ok_json(await web.get(f"/api/v1/receipts/{code}")))["status"]
        status, page, _ = await look_up(web, code, "de")
        assert status == 200 and f'data-status="{api_status}"' in page
        assert said("de", f"receipt_status.{api_status}") in page and said("de", f"receipt.more.{api_status}") in page
        seen.append(api_status)

    acted, _ = await report_through_the_form(web)
    await same_as_the_api(acted)
    case = await ok_json(await web.post(f"{ANALYST_PREFIX}/claim", headers=headers))
    await same_as_the_api(acted)
    body = {"classification": "baseline", "actions": [{"type": "notice_and_takedown_sent"}]}
    await ok_json(await web.post(f"{ANALYST_PREFIX}/cases/{case['id']}/assessment", headers=headers, json=body))
    await same_as_the_api(acted)
    await ok_json(await web.post(f"{ANALYST_PREFIX}/cases/{case['id']}/actions", headers=headers,
                                 json={"actions": [{"type": "content_removed"}]}))
    await same_as_the_api(acted)
    assert seen == ["received", "in_review", "action_taken", "closed"]


@pytest.mark.parametrize("code", [MISSING, "not a code", "ABCDE-1234", "ABCDE-FGHJK-1", "", "x" * 41,
                                  "<script>", "ÄÖÜ-ß", "ABCDE%00FGHJK"])
async def test_unknown_and_malformed_codes_get_one_and_the_same_answer(web, code):
    await report_through_the_form(web)  # a report exists: none of these is its code
    status, page, r = await look_up(web, code)
    _, unknown, _ = await look_up(web, MISSING)
    assert status == 404 and r.content_type == "text/html", page[:500]
    assert said("en", "receipt.not_found", example=ids.RECEIPT_EXAMPLE) in page
    assert "data-status" not in page
    strip = lambda text: re.sub(r'value="[^"]*"', "", text)  # noqa: E731 - what was typed is given back to correct
    assert strip(page) == strip(unknown)
    assert "<script>" not in page


@pytest.mark.parametrize("locale", i18n.LOCALES)
async def test_the_page_speaks_the_reporters_language(web, locale):
    code, _ = await report_through_the_form(web)
    for r in (await web.get(f"/receipt?lang={locale}"),
              await web.get("/receipt", headers={"Accept-Language": f"{locale};q=0.9, xx"})):
        page = await r.text()
        assert f'<html lang="{locale}">' in page and said(locale, "receipt.title") in page
    status, page, _ = await look_up(web, code, locale)
    assert status == 200 and said(locale, "receipt_status.received") in page and f'<html lang="{locale}">' in page
    status, page, _ = await look_up(web, MISSING, None, **{"Accept-Language": locale})
    assert status == 404 and said(locale, "receipt.not_found", example=ids.RECEIPT_EXAMPLE) in page
    for other in i18n.LOCALES:  # the language links lead back to this page
        assert f'href="/receipt?lang={other}"' in page


async def test_the_per_client_limit_is_the_apis_and_its_429_is_a_page(aiohttp_client, settings, redis, redis_url):
    web = await aiohttp_client(create_app(limited(settings, receipts_per_min=4), redis_url, housekeeping=False))
    code, _ = await report_through_the_form(web)
    assert (await web.get(f"/api/v1/receipts/{code}")).status == 200  # the API and the page count together
    assert (await look_up(web, code))[0] == 200
    assert (await look_up(web, MISSING))[0] == 404
    assert (await web.get(f"/api/v1/receipts/{MISSING}")).status == 404
    status, page, r = await look_up(web, code, "de")  # a real code is refused like a guess
    assert status == 429 and r.content_type == "text/html", page[:500]
    retry_after = int(r.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert said("de", "receipt.too_many", seconds=retry_after) in page and '<html lang="de">' in page
    assert "data-status" not in page and r.headers["Cache-Control"] == "no-store"
    await assert_error(await web.get(f"/api/v1/receipts/{code}"), 429, "rate_limited")  # the API's own answer
    assert (await web.get("/receipt")).status == 200  # the empty form is no look-up


async def test_the_pace_of_all_clients_is_the_apis(aiohttp_client, settings, redis, redis_url):
    # One look-up a second of everyone together, the longest wait 1 s: of six clients asking at once,
    # three through the page and three through the API, one is answered now, one after its wait, and
    # the rest are told to come back. (A pace of the page's own would answer two of each.)
    paced = replace(limited(settings, receipts_per_s=1, trust_forwarded_for=True), request_timeout_s=2)
    web = await aiohttp_client(create_app(paced, redis_url, housekeeping=False))

    async def through_the_api(address: str) -> tuple[int, str, Any]:
        r = await web.get(f"/api/v1/receipts/{MISSING}", headers={"X-Forwarded-For": address})
        return r.status, await r.text(), r

    answers = await asyncio.gather(*(look_up(web, MISSING, "fr", **{"X-Forwarded-For": f"198.51.100.{i}"})
                                     for i in range(1, 4)), *(through_the_api(f"203.0.113.{i}") for i in range(1, 4)))
    statuses = [status for status, _, _ in answers]
    assert sorted(statuses) == [404, 404, 429, 429, 429, 429], statuses
    for status, page, r in answers[:3]:
        if status == 429:
            assert r.content_type == "text/html"
            assert said("fr", "receipt.too_many", seconds=int(r.headers["Retry-After"])) in page
    for status, _, r in answers[3:]:
        if status == 429:
            await assert_error(r, 429, "rate_limited")  # the API keeps its JSON


@pytest.mark.parametrize("content_type, body, status", [
    ("application/json", b'{"code": "ABCDE-FGHJK"}', 415),
    ("multipart/form-data", b"", 400),
    ("application/x-www-form-urlencoded", b"code=\xff\xfe", 400),
])
async def test_a_body_no_browser_sends_is_a_4xx_json_error(web, content_type, body, status):
    r = await web.post("/receipt", data=body, headers={"Content-Type": content_type})
    await assert_error(r, status)
