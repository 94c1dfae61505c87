"""The no-JavaScript form's bodies as no browser sends them: each a 4xx JSON error, never a 500,
and the form still takes a good submission afterwards. (The form's own questions and inline
errors: tests/channels/web/test_chat.py.)"""

from __future__ import annotations

import pytest

from frontdoor.app import create_app
from frontdoor.storage import keys
from support.api import assert_error

B = "frontdoor-test-boundary"
MULTIPART = f"multipart/form-data; boundary={B}"
URLENCODED = "application/x-www-form-urlencoded"


def part(name: str | None, value: bytes, *headers: str) -> bytes:
    disposition = f'Content-Disposition: form-data; name="{name}"' if name else "Content-Disposition: form-data"
    head = "\r\n".join([disposition, *headers])
    return f"--{B}\r\n{head}\r\n\r\n".encode() + value + b"\r\n"


END = f"--{B}--\r\n".encode()
GOOD = {"lang": "en", "category": "csam", "urls": "https://example.com/form-page", "where_seen": "website",
        "danger": "no", "role": "other_adult"}


@pytest.fixture
async def web(aiohttp_client, settings, redis, redis_url):  # type: ignore[no-untyped-def]
    return await aiohttp_client(create_app(settings, redis_url, housekeeping=False))


@pytest.mark.parametrize("content_type, body", [
    pytest.param("multipart/form-data", b"", id="multipart-without-boundary"),
    pytest.param("multipart/form-data", b"--x--\r\n", id="multipart-without-boundary-with-body"),
    pytest.param(f"multipart/form-data; boundary={'a' * 80}", b"--" + b"a" * 80 + b"--\r\n", id="boundary-too-long"),
    pytest.param(MULTIPART, b"no boundary in here", id="boundary-never-seen"),
    pytest.param(MULTIPART, part("category", b"csam")[:-2], id="truncated-before-the-end"),
    pytest.param(MULTIPART, part(None, b"csam") + END, id="part-without-a-name"),
    pytest.param(MULTIPART, part("category", b"csam", "No header here") + END, id="part-header-without-colon"),
    pytest.param(MULTIPART, part("category", b"csam", "Bad\x01Name: x") + END, id="part-header-name-not-a-token"),
    pytest.param(MULTIPART, part("category", b"\xff\xfe") + END, id="part-not-utf8"),
    pytest.param(MULTIPART, part("category", b"csam", "Content-Type: text/plain; charset=no-such-charset") + END,
                 id="part-unknown-charset"),
    pytest.param(MULTIPART, part("category", b"csam", "Content-Transfer-Encoding: no-such-encoding") + END,
                 id="part-unknown-transfer-encoding"),
    pytest.param(MULTIPART, part("n", b"--inner\r\n\r\nx\r\n--inner--", "Content-Type: multipart/mixed; boundary=inner") + END,
                 id="nested-multipart"),
    pytest.param(URLENCODED, b"category=\xff\xfe", id="urlencoded-not-utf8"),
    pytest.param(f"{URLENCODED}; charset=no-such-charset", b"category=csam", id="urlencoded-unknown-charset"),
    pytest.param(f"{URLENCODED}; charset=utf-16", b"category=csam", id="urlencoded-odd-utf16"),
])
async def test_a_body_no_browser_sends_is_a_400_json_error(web, content_type, body):
    r = await web.post("/report", data=body, headers={"Content-Type": content_type})
    await assert_error(r, 400, "malformed_form")
    r = await web.post("/report", data=GOOD)  # nothing was left half-read: the next one is taken
    assert r.status == 200, await r.text()


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/octet-stream"])
async def test_a_body_that_is_not_a_form_is_415(web, content_type):
    r = await web.post("/report", data=b"category=csam", headers={"Content-Type": content_type})
    await assert_error(r, 415, "unsupported_media_type")


async def test_a_well_formed_multipart_form_is_taken_like_an_urlencoded_one(web):
    body = b"".join(part(name, value.encode()) for name, value in GOOD.items()) + END
    r = await web.post("/report", data=body, headers={"Content-Type": MULTIPART})
    page = await r.text()
    assert r.status == 200 and 'id="receipt"' in page, page[:300]


async def test_over_the_report_limit_the_form_comes_back_filled_in_with_when_to_send_it(aiohttp_client, settings, redis,
                                                                                        redis_url):
    from dataclasses import replace

    limited = replace(settings, web=replace(settings.web, reports_per_min=1))
    web = await aiohttp_client(create_app(limited, redis_url, housekeeping=False))
    assert (await web.post("/report", data=GOOD)).status == 200
    words = "I saw it on a page of a forum the limit refused"
    r = await web.post("/report", data={**GOOD, "lang": "de", "description": words, "submission": "t" * 22,
                                        "urls": "https://example.com/refused-page"})
    page = await r.text()
    assert r.status == 429 and r.content_type == "text/html"
    assert 0 < int(r.headers["Retry-After"]) <= 60
    assert 'id="too-many"' in page and "Sekunden" in page  # in the reporter's language
    assert words in page and "https://example.com/refused-page" in page and 'value="' + "t" * 22 + '"' in page
    assert int(await redis.xlen(keys.lane(0, "normal"))) == 1  # the refused form (another URL: another case) stored nothing
