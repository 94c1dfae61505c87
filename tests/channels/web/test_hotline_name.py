"""One setting names the hotline on every page and in every message (HotlineSettings.name,
FRONTDOOR_HOTLINE_NAME): the sample page and the widget's title on it, the form and its receipt
page, the receipt page, the dialog's greeting and the e-mail auto-reply. Nothing says "Example
Hotline" (the default) or a bare "Hotline" once a hotline has named itself."""

from __future__ import annotations

import re
from dataclasses import replace
from email.message import EmailMessage
from typing import Any

import pytest
from markupsafe import escape

from frontdoor.app import create_app
from frontdoor.channels.email.replies import ReplyWriter
from frontdoor.outbox import Outbound
from frontdoor.prevention_content import load_catalog
from frontdoor.settings import HotlineSettings, Settings

NAME = "Zephyrine Line & Co"  # distinctive, and with a character the pages must escape
DEFAULT = HotlineSettings().name
FORM = {"lang": "en", "category": "csam", "urls": "https://example.com/named-page", "where_seen": "website",
        "danger": "no", "role": "other_adult"}


def bare_default(text: str) -> list[str]:
    """Where the default name, or the word Hotline on its own (the old default), shows through."""
    return re.findall(r".{0,30}(?:Example Hotline|\bHotline\b).{0,30}", text)


@pytest.fixture
async def named(aiohttp_client, settings, redis, redis_url):  # type: ignore[no-untyped-def]
    settings = replace(settings, hotline=replace(settings.hotline, name=NAME))
    return await aiohttp_client(create_app(settings, redis_url, housekeeping=False))


async def pages(web: Any) -> dict[str, str]:
    """Every page a reporter sees, and the dialog's first message, by where it comes from."""
    out = {}
    for path in ("/", "/report", "/report?lang=de", "/receipt", "/receipt?lang=fr"):
        r = await web.get(path)
        assert r.status == 200, path
        out[path] = await r.text()
    r = await web.post("/report", data=FORM)
    out["POST /report"] = await r.text()
    code = re.search(r'id="receipt">([0-9A-Z-]{11})<', out["POST /report"])
    assert code, out["POST /report"][:300]
    r = await web.post("/receipt", data={"code": code.group(1), "lang": "en"})
    assert r.status == 200
    out["POST /receipt"] = await r.text()
    r = await web.post("/receipt", data={"code": "ABCDE-FGHJK", "lang": "de"})
    assert r.status == 404
    out["POST /receipt (unknown)"] = await r.text()
    r = await web.post("/api/v1/conversations", json={"locale": "en"})
    out["the greeting"] = (await r.json())["messages"][0]["text"]
    return out


async def test_the_name_is_on_every_page_and_in_the_greeting(named):
    shown = await pages(named)
    escaped = str(escape(NAME))
    for where, text in shown.items():
        assert (NAME if where == "the greeting" else escaped) in text, where
        assert bare_default(text) == [], (where, bare_default(text))
    sample = shown["/"]
    assert f'data-title="Report to {escaped}"' in sample  # the widget's title on the sample page
    assert f"<title>{escaped} – " in sample and '<span class="brand-mark" aria-hidden="true">ZL</span>' in sample
    for where in ("/report", "/receipt", "POST /report", "POST /receipt"):
        assert f'<p class="name">{escaped}</p>' in shown[where], where


def test_the_e_mail_auto_reply_names_the_hotline() -> None:
    hotline = HotlineSettings(name=NAME, public_url="https://hotline.example/")
    writer = ReplyWriter(load_catalog(), hotline, "report@hotline.example")
    for locale in ("en", "de", "fr"):
        job = {"receipt": "DWD2P-TS8B2", "locale": locale, "category": "csam"}
        message: EmailMessage = writer.message(Outbound("1-0", "email", "reporter@example.com", job, 1))
        body = message.get_content()
        assert NAME in message["Subject"] and "DWD2P-TS8B2" in message["Subject"], message["Subject"]
        assert body.rstrip().endswith(NAME), body[-200:]
        assert bare_default(message["Subject"] + body) == [], bare_default(body)


async def test_the_default_name_is_example_hotline_everywhere(aiohttp_client, settings, redis, redis_url):
    assert DEFAULT == "Example Hotline" == Settings.from_env({}).hotline.name
    assert Settings.from_env({"FRONTDOOR_HOTLINE_NAME": NAME}).hotline.name == NAME
    web = await aiohttp_client(create_app(settings, redis_url, housekeeping=False))
    for where, text in (await pages(web)).items():
        assert DEFAULT in text, where
        assert not re.search(r"(?<!Example )\bHotline\b", text), where  # never the bare word
