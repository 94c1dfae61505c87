"""The web channel in a real browser: the chat widget on the demo page (`/`) and the no-JavaScript
form (`/report`), served by the real app on a real port, driven by Playwright in Debian's Chromium.

Everything a reporter does here is done as a person would: clicking, typing, pressing keys.
Test data are reserved names only (example.com, *.test, *.invalid).
"""

from __future__ import annotations

import asyncio
import re
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from aiohttp import web
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from support.browser import ARTIFACTS, ASK_URLS, BUSY, CSAM, EXPIRED, NO, NO_LINK, NO_SCHEME, OTHER_ADULT, RECEIPT_RE, REPORT, SEND_IT, SEXTORTION, SKIP, SOCIAL_MEDIA, TEEN, WEBSITE, Widget, assert_focus_visible, describe, focused, launch, png_size, serious, serve, storage
from frontdoor.app import create_app
from frontdoor.queue import TriageQueue
from frontdoor.settings import Settings
from support.redisdb import wiped

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
EXIT_URL = "https://www.google.com/"  # the widget's default Quick exit target; answered locally, never fetched
LINK = "https://example.com/web-page"


# -- fixtures -------------------------------------------------------------------------------------
# One Chromium for the module, so every test and every async fixture here runs in the module's
# event loop (a browser, like a Redis connection, belongs to the loop that made it). Each test
# still gets its own app, its own wiped Redis and its own browser context (fresh storage).

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await launch(playwright)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest_asyncio.fixture(loop_scope="module")
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """conftest's `redis` (wiped before and after), in the module's event loop."""
    async with wiped(aioredis.Redis.from_url(redis_url, decode_responses=True)) as client:
        yield client


@pytest.fixture
def app_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The test settings; a test changes some of the web channel's with
    `@pytest.mark.parametrize("app_settings", [{...}], indirect=True)`."""
    return replace(settings, web=replace(settings.web, **getattr(request, "param", {})))


@pytest_asyncio.fixture(loop_scope="module")
async def server(app_settings: Settings, redis: Any, redis_url: str) -> AsyncIterator[str]:
    async with serve(create_app(app_settings, redis_url, housekeeping=False)) as base:
        yield base


async def new_context(browser: Browser, base: str, **options: Any) -> BrowserContext:
    context = await browser.new_context(base_url=base, **{"viewport": DESKTOP, **options})
    # Quick exit replaces the page with the exit URL: answer it here, so no test touches the network.
    await context.route(EXIT_URL + "**", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>Search</title><p>neutral page</p>"))
    return context


@pytest_asyncio.fixture(loop_scope="module")
async def context(browser: Browser, server: str) -> AsyncIterator[BrowserContext]:
    context = await new_context(browser, server)
    try:
        yield context
    finally:
        await context.close()


PAGE_ERRORS: weakref.WeakKeyDictionary[Page, list[str]] = weakref.WeakKeyDictionary()


@pytest_asyncio.fixture(loop_scope="module")
async def page(context: BrowserContext) -> Page:
    page = await context.new_page()
    errors = PAGE_ERRORS.setdefault(page, [])
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: msg.type == "error" and errors.append(f"console: {msg.text}"))
    return page


def no_page_errors(page: Page) -> None:
    """No script errors and no CSP violations (Chromium logs those as console errors)."""
    assert PAGE_ERRORS[page] == [], PAGE_ERRORS[page]


async def start_page(page: Page) -> Widget:
    await page.goto("/")
    widget = Widget(page)
    await expect(widget.launcher).to_be_visible()  # widget.css has loaded: the widget is shown
    return widget


# -- 1. a report through the widget, end to end ---------------------------------------------------

async def test_widget_report_end_to_end_by_clicking_and_typing(page: Page, server: str, redis: Any) -> None:
    widget = await start_page(page)
    await expect(widget.panel).to_be_hidden()
    await expect(widget.launcher).to_have_attribute("aria-expanded", "false")
    await widget.launcher.click()
    await expect(widget.panel).to_be_visible()
    await expect(widget.launcher).to_have_attribute("aria-expanded", "true")
    await expect(widget.said("What would you like to do?")).to_be_visible()

    await widget.choose(REPORT)
    await expect(widget.said("What did you see or what happened?")).to_be_visible()
    await widget.choose(CSAM)
    await expect(widget.said(ASK_URLS)).to_be_visible()
    # The dialog expects a link: the input is a URL input (phone keyboards show "/" and ".com").
    await expect(widget.input).to_have_attribute("type", "url")
    await expect(widget.input).to_have_attribute("inputmode", "url")
    await expect(widget.input).to_have_attribute("autocomplete", "off")
    await widget.type(LINK)
    await expect(widget.said(LINK, "you")).to_be_visible()
    await expect(widget.said("Where did you see it?")).to_be_visible()
    await expect(widget.input).not_to_have_attribute("type", "url")  # back to a plain line of text
    for title in (WEBSITE, SKIP, NO, OTHER_ADULT, SKIP, SKIP):
        await widget.choose(title)
    await expect(widget.said("Here is what you told us:")).to_be_visible()
    await widget.choose(SEND_IT)

    await expect(widget.receipt).to_have_text(RECEIPT_RE)
    code = (await widget.receipt.text_content() or "").strip()
    await expect(widget.said(f"Your receipt code is {code}")).to_be_visible()
    assert await TriageQueue(redis).receipt_status(code) == "received"

    cards = await widget.resources.count()
    assert 0 < cards <= 3, cards
    for href in await page.locator("[data-testid=fd-resource] a[href^='tel:']").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"):
        assert re.fullmatch(r"tel:\+?[0-9]+", href), href
    for link in await page.locator("[data-testid=fd-resource] a[target=_blank]").all():
        await expect(link).to_have_attribute("rel", re.compile(r"\bnoopener\b"))

    # Copy: the clipboard, or at least the code selected with a note saying so.
    await page.get_by_test_id("fd-copy").click()
    await expect(page.locator(".fd-copied")).to_have_text(re.compile(r"^(Copied|The code is selected\..*)$"))
    # After the report the dialog asks "Is there anything else?"; "Goodbye" ends the conversation
    # (the server forgets it) and the input gives way to a button that starts a new one.
    await expect(widget.reply(REPORT)).to_be_enabled()
    await widget.choose("Goodbye")
    await expect(widget.said("We have forgotten this conversation.")).to_be_visible()
    await assert_forgotten(redis)
    restart = page.get_by_test_id("fd-restart")
    await expect(restart).to_have_text("Start a new conversation")
    await expect(restart).to_be_focused()
    await expect(page.locator("form.fd-form")).to_be_hidden()
    await restart.click()
    await expect(widget.said("What would you like to do?")).to_have_count(1)
    await expect(widget.receipt).to_have_count(0)
    await expect(widget.reply(REPORT)).to_be_enabled()
    no_page_errors(page)


async def test_start_a_report_link_opens_the_chat_instead_of_the_form(page: Page, server: str) -> None:
    widget = await start_page(page)
    await page.get_by_role("link", name="Start a report").click()
    await expect(widget.panel).to_be_visible()
    await expect(widget.reply(REPORT)).to_be_visible()
    assert page.url == server + "/"
    no_page_errors(page)


# -- 2. a junk link ------------------------------------------------------------------------------

async def test_junk_url_is_answered_with_a_kind_re_prompt(page: Page) -> None:
    widget = await start_page(page)
    await widget.open()
    await widget.choose(REPORT)
    await widget.choose(CSAM)
    await expect(widget.input).to_have_attribute("type", "url")
    await widget.type("not a link")  # novalidate: the browser lets it through, the server explains
    await expect(widget.said("not a link", "you")).to_be_visible()
    await expect(widget.said(NO_SCHEME)).to_be_visible()
    await expect(widget.said(ASK_URLS)).to_have_count(2)  # the question again
    await expect(widget.input).to_have_attribute("type", "url")
    await expect(widget.input).to_have_value("")
    await widget.type(LINK)  # and a real link goes on to the next question
    await expect(widget.said("Where did you see it?")).to_be_visible()
    no_page_errors(page)


# -- 3. Quick exit ---------------------------------------------------------------------------------

async def conversation_keys(redis: Any) -> list[str]:
    return [key async for key in redis.scan_iter("*") if "{c:" in key and key.endswith(":state")]


async def assert_forgotten(redis: Any) -> None:
    """The widget asked the server to forget the conversation (a keepalive request nobody awaits)."""
    for _ in range(100):
        if not await conversation_keys(redis):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the conversation is still in Redis after Quick exit: {await conversation_keys(redis)}")


async def assert_wiped(page: Page, context: BrowserContext, server: str) -> None:
    await page.wait_for_url(EXIT_URL)
    await expect(page.locator("p")).to_have_text("neutral page")
    # location.replace: Back does not return to the hotline's page.
    await page.go_back()
    assert not page.url.startswith(server), page.url
    # Back on the hotline's origin in the same tab: nothing of the conversation is left.
    await page.goto("/")
    widget = Widget(page)
    await expect(widget.launcher).to_be_visible()
    assert await storage(page) == {"session": 0, "local": 0, "widget": None, "cookie": ""}
    assert await context.cookies() == []
    await expect(widget.panel).to_be_hidden()
    await expect(page.get_by_test_id("fd-message")).to_have_count(0)


async def test_quick_exit_leaves_and_wipes_the_conversation(page: Page, context: BrowserContext, server: str,
                                                            redis: Any) -> None:
    widget = await start_page(page)
    await widget.open()
    await widget.choose(REPORT)
    stored = await storage(page)
    assert stored["session"] == 1 and stored["local"] == 0 and stored["cookie"] == ""
    assert re.search(r'"token":"[A-Za-z0-9_-]{43}"', stored["widget"]), stored
    assert len(await conversation_keys(redis)) == 1

    stops: list[str] = []
    page.on("request", lambda r: r.url.endswith("/messages") and stops.append(r.post_data or ""))
    await widget.quick_exit.click()
    await assert_wiped(page, context, server)
    assert stops == ['{"payload":"/stop"}']
    await assert_forgotten(redis)


async def test_escape_twice_is_quick_exit(page: Page, context: BrowserContext, server: str, redis: Any) -> None:
    widget = await start_page(page)
    await widget.open()
    await widget.choose(REPORT)
    assert (await storage(page))["session"] == 1
    await page.keyboard.press("Escape")
    await page.keyboard.press("Escape")
    await assert_wiped(page, context, server)
    await assert_forgotten(redis)


async def test_quick_exit_on_the_launcher_before_any_conversation(page: Page, context: BrowserContext,
                                                                  server: str) -> None:
    await start_page(page)
    await page.get_by_test_id("fd-launcher-exit").click()
    await assert_wiped(page, context, server)


# -- 4. keyboard alone -----------------------------------------------------------------------------

async def key_to(page: Page, want: dict[str, str], key: str = "Tab", most: int = 40) -> dict[str, Any]:
    """Press `key` until the focused element matches `want`; focus must be visible at every stop."""
    seen: list[Any] = []
    for _ in range(most):
        await page.keyboard.press(key)
        info = await focused(page)
        if info is None and seen and seen[-1] != "(browser)":  # past the page's end: the browser's own UI
            seen.append("(browser)")
            continue
        assert_focus_visible(info)
        assert info is not None
        seen.append(info.get("testid") or info["text"][:30])
        if all(info.get(k) == v for k, v in want.items()):
            return info
    raise AssertionError(f"{key} never reached {want}; focus went through {seen}")


async def test_keyboard_alone_completes_a_report(page: Page, redis: Any) -> None:
    widget = await start_page(page)
    live = page.locator("[role=log][aria-live=polite][data-testid=fd-log]")
    await expect(live).to_have_count(1)
    await expect(live).to_have_attribute("aria-label", "Conversation")

    await key_to(page, {"testid": "fd-launcher"})  # through the page's own links first
    await page.keyboard.press("Enter")
    await expect(widget.panel).to_be_visible()
    assert_focus_visible(info := await focused(page))
    assert info and info["testid"] == "fd-input", info

    async def pick(title: str, key: str, direction: str = "Shift+Tab") -> None:
        await expect(widget.reply(title)).to_be_enabled()  # the hotline has asked
        before = await widget.mine.count()
        await key_to(page, {"testid": "fd-quick-reply", "text": title}, direction)
        await page.keyboard.press(key)
        await widget.answered(before)
        # The chosen button is disabled now; focus went back to the input, not to the page.
        assert_focus_visible(info := await focused(page))
        assert info and info["testid"] == "fd-input", info

    async def write(text: str) -> None:
        before = await widget.mine.count()
        assert_focus_visible(info := await focused(page))
        assert info and info["testid"] == "fd-input", info
        await page.keyboard.type(text)
        await page.keyboard.press("Enter")
        await widget.answered(before)

    # Tab goes on from the input through Send and the page, round to the panel's header, the
    # log and its quick replies; Shift+Tab is the short way back from the input.
    await pick(REPORT, "Space", "Tab")
    # New messages arrive inside the polite live region (role=log), so they are read out.
    await expect(live.locator("[data-from=hotline]").filter(has_text="What did you see or what happened?")).to_be_visible()
    await pick(SEXTORTION, "Enter")
    await expect(live.locator("[data-from=hotline]").filter(has_text=ASK_URLS)).to_be_visible()
    await pick(NO_LINK, "Enter")
    await expect(widget.said("Where did it happen?")).to_be_visible()
    await write("Example Game")
    await pick(SKIP, "Enter")  # the account name
    await pick(SOCIAL_MEDIA, "Space")
    await pick(SKIP, "Enter")  # the description
    await pick(NO, "Enter")
    await pick(TEEN, "Enter")
    await expect(widget.said("Which country do you live in?")).to_be_visible()
    await write("Germany")
    await pick(SKIP, "Enter")  # when
    await pick(SEND_IT, "Enter")

    await expect(live.locator("[data-testid=fd-receipt]")).to_have_text(RECEIPT_RE)
    code = (await widget.receipt.text_content() or "").strip()
    assert await TriageQueue(redis).receipt_status(code) == "received"
    # A teenager in Germany is pointed to the child helpline, with its number as a tel: link.
    cards = await widget.resources.count()
    assert 0 < cards <= 3, cards
    call = page.locator("[data-testid=fd-resource] a[href^='tel:']")
    await expect(call.first).to_have_attribute("href", re.compile(r"^tel:\+?[0-9]+$"))
    href = await call.first.get_attribute("href")
    await key_to(page, {"tag": "a", "href": href or ""}, "Shift+Tab")  # the call link is reachable too

    # Escape once closes the panel and gives focus back to the launcher.
    await page.keyboard.press("Escape")
    await expect(widget.panel).to_be_hidden()
    assert_focus_visible(info := await focused(page))
    assert info and info["testid"] == "fd-launcher", info
    no_page_errors(page)


# -- 5. axe-core -----------------------------------------------------------------------------------

async def assert_accessible(page: Page, where: str) -> None:
    results = await Axe().run(page)
    bad = serious(results)
    assert not bad, f"axe-core on {where}: serious or critical violations\n{describe(bad)}"


async def test_axe_finds_no_serious_violations_in_the_widget(page: Page) -> None:
    widget = await start_page(page)
    await assert_accessible(page, "/ with the widget closed")
    await widget.open()
    await assert_accessible(page, "/ with the widget open")
    await widget.choose(REPORT)
    await widget.choose(CSAM)
    await widget.type("not a link")
    await expect(widget.said(NO_SCHEME)).to_be_visible()
    await assert_accessible(page, "/ after a few turns (URL input, re-prompt, disabled quick replies)")
    await widget.type(LINK)
    for title in (WEBSITE, SKIP, NO, OTHER_ADULT, SKIP, SKIP, SEND_IT):
        await widget.choose(title)
    await expect(widget.receipt).to_have_text(RECEIPT_RE)
    await expect(widget.resources.first).to_be_visible()
    await assert_accessible(page, "/ with the receipt and resources")
    await page.set_viewport_size({"width": 320, "height": 640})
    await assert_accessible(page, "/ with the receipt, 320 px wide")


async def test_axe_finds_no_serious_violations_in_the_form(page: Page) -> None:
    await page.goto("/report")
    await assert_accessible(page, "/report")
    await page.get_by_role("button", name="Send report").click()
    await expect(page.locator("#category-error")).to_be_visible()
    await assert_accessible(page, "/report with errors")
    await page.get_by_label(CSAM).check()
    await page.locator("#urls").fill(LINK)
    await page.get_by_role("group", name="Where did you see it?").get_by_label(WEBSITE).check()
    await page.get_by_role("group", name="Is a child in danger right now?").get_by_label(NO, exact=True).check()
    await page.get_by_label(OTHER_ADULT).check()
    await page.get_by_role("button", name="Send report").click()
    await expect(page.locator("#receipt")).to_have_text(RECEIPT_RE)
    await assert_accessible(page, "/report's receipt page")


# -- 6. nothing from anyone else ------------------------------------------------------------------

async def test_nothing_is_loaded_from_third_parties(context: BrowserContext, page: Page, server: str) -> None:
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    widget = await start_page(page)
    await widget.report_csam_link()
    await page.goto("/report")
    await page.get_by_role("button", name="Send report").click()
    await expect(page.locator("#category-error")).to_be_visible()
    assert len(requests) > 15, requests
    elsewhere = [url for url in requests if not (url.startswith(server + "/") or url.startswith("data:"))]
    assert elsewhere == [], elsewhere


# -- 7. the no-JavaScript form --------------------------------------------------------------------

async def test_the_form_works_without_javascript(browser: Browser, server: str, redis: Any) -> None:
    context = await new_context(browser, server, java_script_enabled=False, viewport=PHONE)
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    try:
        page = await context.new_page()
        # Without JavaScript there is no widget: "Start a report" is a plain link to the form.
        await page.goto("/")
        await expect(page.locator("frontdoor-chat")).to_have_count(0)
        await page.get_by_role("link", name="Start a report").click()
        await page.wait_for_url(server + "/report")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Report to Example Hotline")

        await page.get_by_label("Please copy the web address").fill("not a link")
        await page.get_by_label("In your own words").fill("Neutral placeholder text.")
        await page.get_by_label("Which country do you live in?").select_option(label="Germany")
        await page.get_by_role("button", name="Send report").click()
        await page.wait_for_load_state()

        # Inline errors beside each field, tied to it for screen readers; the answers are kept.
        for name in ("category", "where_seen", "danger", "role"):
            await expect(page.locator(f"#{name}-error")).to_contain_text("Please answer this question.")
            await expect(page.locator(f"fieldset#{name}")).to_have_attribute("aria-describedby", f"{name}-error")
        await expect(page.locator("#urls-error")).to_contain_text(NO_SCHEME)
        await expect(page.locator("#urls")).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#urls")).to_have_attribute("aria-describedby", "urls-hint urls-error")
        await expect(page.locator(".summary[role=alert] a")).to_have_count(5)
        await expect(page.locator("#urls")).to_have_value("not a link")
        await expect(page.locator("#description")).to_have_value("Neutral placeholder text.")
        await expect(page.locator("#country")).to_have_value("DE")
        await page.screenshot(path=ARTIFACTS / "report-form-errors-360.png", full_page=True)

        await page.get_by_label(CSAM).check()
        await page.locator("#urls").fill(LINK + "\nhttps://www.example.com/other-page")
        await page.get_by_role("group", name="Where did you see it?").get_by_label(WEBSITE).check()
        await page.get_by_role("group", name="Is a child in danger right now?").get_by_label(NO, exact=True).check()
        await page.get_by_label(OTHER_ADULT).check()
        await page.get_by_role("button", name="Send report").click()

        await expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")
        await expect(page.locator("#receipt")).to_have_text(RECEIPT_RE)
        code = (await page.locator("#receipt").text_content() or "").strip()
        await expect(page.get_by_text(f"Your receipt code is {code}")).to_be_visible()
        assert await page.locator(".resource").count() <= 3
        queue = TriageQueue(redis)
        assert await queue.receipt_status(code) == "received"
        case = await queue.get(await queue.claim("browser-test"))
        report = case["reports"][0]
        assert report["channel"] == "web_form" and report["category"] == "csam"
        assert report["reporter_country"] == "DE" and report["child_in_immediate_danger"] is False
        assert len(report["urls"]) == 2  # claimed now: an analyst is looking at it

        # The receipt page says so, reached by following the link, the code typed as a person might.
        await page.get_by_role("link", name="Check your report with your receipt code").click()
        await page.wait_for_url(server + "/receipt?lang=en")
        await page.get_by_label("Receipt code").fill(code.lower().replace("-", " "))
        await page.get_by_role("button", name="Check").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"Your report {code}")
        await expect(page.locator("#status")).to_have_attribute("data-status", "in_review")
        await expect(page.locator("#status")).to_contain_text("An analyst is looking at your report now.")
        assert code not in page.url  # posted: the code is in no address, history or Referer
        await page.get_by_role("link", name="Deutsch").click()  # and in another language, a wrong code
        await page.get_by_label("Bestätigungscode").fill("ABCDE-FGHJK")
        await page.get_by_role("button", name="Prüfen").click()
        await expect(page.locator("#not-found")).to_contain_text("keine Meldung gefunden")
        await expect(page.locator("#code")).to_have_attribute("aria-invalid", "true")
        elsewhere = [url for url in requests if not url.startswith(server + "/")]
        assert elsewhere == [], elsewhere
    finally:
        await context.close()


async def test_axe_finds_no_serious_violations_on_the_receipt_page(page: Page, redis: Any) -> None:
    await page.goto("/report")
    await page.get_by_role("link", name="Check your report with your receipt code").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Check your report")
    await assert_accessible(page, "/receipt")
    await page.get_by_label("Receipt code").fill("not a code")
    await page.get_by_role("button", name="Check").click()
    await expect(page.locator("#not-found")).to_be_visible()
    await assert_accessible(page, "/receipt with an unknown code")
    code = (await page.evaluate("""async () => {
      const body = new URLSearchParams({lang: "en", category: "csam", urls: "https://example.com/axe-page",
                                        where_seen: "website", danger: "no", role: "other_adult"});
      const page = await (await fetch("/report", {method: "POST", body})).text();
      return page.match(/id="receipt">([0-9A-Z-]{11})</)[1];
    }"""))
    await page.get_by_label("Receipt code").fill(code)
    await page.get_by_role("button", name="Check").click()
    await expect(page.locator("#status")).to_have_attribute("data-status", "received")
    await assert_accessible(page, "/receipt with a status")
    await page.set_viewport_size({"width": 320, "height": 640})
    await assert_accessible(page, "/receipt with a status, 320 px wide")
    # Chromium logs the unknown code's page (a 404) as a console error; nothing else may be there.
    assert PAGE_ERRORS[page] == ["console: Failed to load resource: the server responded with a status of 404 (Not Found)"]


# -- 8. 320 px wide --------------------------------------------------------------------------------

async def test_widget_is_usable_320_px_wide(browser: Browser, server: str) -> None:
    context = await new_context(browser, server, viewport={"width": 320, "height": 640}, has_touch=True)
    try:
        page = await context.new_page()
        widget = await start_page(page)
        assert await page.evaluate("document.documentElement.scrollWidth") <= 320
        for testid in ("fd-launcher", "fd-launcher-exit"):  # the closed widget: both buttons on screen
            box = await page.get_by_test_id(testid).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 320 and box["height"] >= 44, (testid, box)
        await widget.open()
        await widget.choose(REPORT)
        await widget.choose(CSAM)
        await widget.type("https://example.com/" + "a-very-long-path-segment/" * 12 + "?q=" + "x" * 80)
        await expect(widget.said("Where did you see it?")).to_be_visible()

        sizes = await page.evaluate("""() => {
          const root = document.querySelector('frontdoor-chat').shadowRoot;
          const panel = root.querySelector('[data-testid=fd-panel]').getBoundingClientRect();
          const log = root.querySelector('[data-testid=fd-log]');
          return { doc: document.documentElement.scrollWidth, panelLeft: panel.left, panelRight: panel.right,
                   logScroll: log.scrollWidth, logClient: log.clientWidth };
        }""")
        assert sizes["doc"] <= 320, sizes
        assert sizes["panelLeft"] >= 0 and sizes["panelRight"] <= 320, sizes
        assert sizes["logScroll"] <= sizes["logClient"], sizes  # no sideways scrolling in the conversation

        replies = page.locator("[data-testid=fd-quick-reply]")
        assert await replies.count() >= 5
        for button in await replies.all():
            box = await button.bounding_box()
            assert box and box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= 320, box
        for testid in ("fd-quick-exit", "fd-close", "fd-send", "fd-input"):
            box = await page.get_by_test_id(testid).bounding_box()
            assert box and box["height"] >= 44 and box["width"] >= 44 and box["x"] + box["width"] <= 320, (testid, box)
        await widget.reply(WEBSITE).tap()
        await expect(widget.said("In your own words")).to_be_visible()
    finally:
        await context.close()


# -- 9. the rate limit, as the widget shows it ----------------------------------------------------

@pytest.mark.parametrize("app_settings", [{"messages_per_min": 2}], indirect=True, ids=["2-messages-a-minute"])
async def test_rate_limit_shows_a_friendly_message_and_waits(page: Page) -> None:
    await page.clock.install()  # time runs as usual, and the test can jump past the wait
    widget = await start_page(page)
    await widget.open()
    # Send until the server answers 429 (a fixed window: a new minute may allow two more).
    for _ in range(6):
        await expect(widget.send).to_be_enabled()
        await widget.input.fill("hello")
        async with page.expect_response(lambda r: r.url.endswith("/messages")) as answer:
            await widget.input.press("Enter")
        response = await answer.value
        if response.status == 429:
            break
        assert response.status == 200
        await expect(widget.said("Please choose one of these:")).to_have_count(await widget.mine.count())
    assert response.status == 429, "no 429 after six messages with a limit of two a minute"
    assert 0 < int(response.headers["retry-after"]) <= 60
    await expect(widget.notice).to_have_text(BUSY)
    await expect(widget.wait).to_have_text(re.compile(r"^You can send again in \d+ s\.$"))
    await expect(widget.send).to_be_disabled()
    await expect(widget.reply(REPORT)).to_have_count(0)  # the quick replies wait too
    await expect(widget.input).to_have_value("hello")  # what was written is still there
    await expect(widget.mine).to_have_count(await widget.said("Please choose one of these:").count())
    await page.clock.fast_forward((int(response.headers["retry-after"]) + 1) * 1000)
    await expect(widget.wait).to_be_hidden()
    await expect(widget.notice).to_have_text("")
    await expect(widget.send).to_be_enabled()
    await expect(widget.reply(REPORT)).to_be_enabled()


# -- what else can happen: reloads, lost connections, expired conversations, languages -----------

async def test_a_reload_in_the_same_tab_shows_the_current_question_again(page: Page) -> None:
    widget = await start_page(page)
    await widget.open()
    await widget.choose(REPORT)
    await widget.choose(CSAM)
    await widget.type(LINK)
    await expect(widget.said("Where did you see it?")).to_be_visible()
    stored = await storage(page)
    assert stored["session"] == 1 and stored["local"] == 0 and LINK not in stored["widget"], stored
    await page.reload()
    await expect(widget.panel).to_be_visible()
    await expect(widget.said("Where did you see it?")).to_be_visible()
    await expect(widget.said(LINK, "you")).to_have_count(0)
    await widget.choose(WEBSITE)  # the same conversation goes on
    await expect(widget.said("In your own words")).to_be_visible()
    no_page_errors(page)


async def test_what_the_reporter_typed_is_not_kept_in_session_storage(page: Page) -> None:
    # Regression: widget.js `save()` stored the whole last turn (`lastTurn.messages`) in sessionStorage.
    # At the confirmation step that turn starts with the dialog's summary ("Here is what you told
    # us: ... Links: <the reported link> ... Your words: <the description>"), so the reported link and
    # up to 200 characters of what the reporter wrote sit in sessionStorage (and are shown again after
    # a reload), although static/README.md promises "What the reporter types is never stored".
    widget = await start_page(page)
    await widget.open()
    await widget.choose(REPORT)
    await widget.choose(CSAM)
    await widget.type(LINK)
    await widget.choose(WEBSITE)
    await widget.type("Neutral placeholder words")
    for title in (NO, OTHER_ADULT, SKIP, SKIP):
        await widget.choose(title)
    await expect(widget.reply(SEND_IT)).to_be_enabled()
    stored = (await storage(page))["widget"]
    assert LINK not in stored and "Neutral placeholder words" not in stored, stored


async def test_a_lost_connection_keeps_the_draft_and_offers_to_try_again(page: Page) -> None:
    widget = await start_page(page)
    await widget.open()
    await widget.choose(REPORT)
    await widget.choose(CSAM)
    await page.route("**/api/v1/conversations/*/messages", lambda route: route.abort("internetdisconnected"))
    await widget.input.fill(LINK)
    await widget.input.press("Enter")
    await expect(widget.notice).to_have_text(re.compile(r"^We couldn't reach the hotline\. .*What you wrote is still here\.$"))
    await expect(widget.input).to_have_value(LINK)
    await expect(widget.said(LINK, "you")).to_have_count(0)
    await page.unroute("**/api/v1/conversations/*/messages")
    await page.get_by_test_id("fd-retry").click()
    await expect(widget.said("Where did you see it?")).to_be_visible()
    await expect(widget.notice).to_have_text("")
    await expect(page.get_by_test_id("fd-retry")).to_be_hidden()


async def test_an_expired_conversation_starts_again_with_a_note(page: Page, redis: Any) -> None:
    widget = await start_page(page)
    await widget.open()
    await widget.choose(REPORT)
    await redis.flushdb()  # the server forgot the conversation (idle timeout)
    await widget.reply(CSAM).click()
    await expect(page.locator("[data-testid=fd-message][data-from=system]")).to_have_text(EXPIRED)
    await expect(widget.said("What would you like to do?")).to_have_count(1)  # a new conversation
    await expect(widget.said("What did you see or what happened?")).to_have_count(0)
    await widget.choose(REPORT)
    await expect(widget.said("What did you see or what happened?")).to_be_visible()


@pytest.mark.parametrize("app_settings", [{"messages_per_min": 1}], indirect=True, ids=["1-message-a-minute"])
async def test_the_widget_speaks_the_browsers_language(browser: Browser, server: str, redis: Any) -> None:
    context = await new_context(browser, server, locale="de-DE")  # Accept-Language: de-DE
    try:
        page = await context.new_page()
        await page.clock.install()
        widget = await start_page(page)
        await widget.launcher.click()
        await expect(widget.said("Was möchtest du tun?")).to_be_visible()
        await expect(widget.quick_exit).to_have_text("Schnell weg")
        await expect(widget.send).to_have_text("Senden")
        await expect(page.locator("frontdoor-chat section.fd")).to_have_attribute("lang", "de")
        await expect(page.get_by_test_id("fd-close")).to_have_attribute("aria-label", "Chat schließen")
        await widget.choose("Etwas melden, das ich online gesehen habe")
        await expect(widget.said("Was hast du gesehen oder was ist passiert?")).to_be_visible()
        # Too fast, then expired: the notices are German too, not the API's English.
        await widget.input.fill("hallo")
        await widget.input.press("Enter")
        await expect(widget.wait).to_have_text(re.compile(r"^Du kannst in \d+ s wieder senden\.$"))
        await expect(widget.notice).to_have_text("Bitte warte kurz, bevor du wieder etwas schickst.")
        await redis.flushdb()  # the minute's count and the conversation are gone
        await page.clock.fast_forward(61_000)
        await expect(widget.send).to_be_enabled()
        await widget.input.press("Enter")
        await expect(page.locator("[data-testid=fd-message][data-from=system]")).to_have_text(
            "Diese Unterhaltung ist beendet. Wir fangen eine neue an.")
        await expect(widget.reply("Etwas melden, das ich online gesehen habe")).to_be_enabled()
    finally:
        await context.close()


def host_page(base: str, host: str) -> str:
    """A hotline's own page embedding the widget with one script tag and a custom accent and exit."""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Example host page</title>
<script src="{base}/widget.js" defer data-title="Report to Example Hotline" data-accent="#6a1b9a"
        data-exit-url="{host}/left"></script></head>
<body><main><h1>A hotline's own page</h1><p><a href="{base}/report" data-frontdoor-open>Start a report</a></p></main></body></html>"""


@asynccontextmanager
async def embedded(settings: Settings, redis_url: str, *, allowed: bool) -> AsyncIterator[tuple[str, str]]:
    """(the hotline's site, the frontdoor server): two real servers on two ports, so two origins.
    The site's page has a strict CSP that allows only the frontdoor server (static/README.md:
    the widget needs no 'unsafe-inline' and no 'unsafe-eval'). Both are on 127.0.0.1: Chromium
    blocks a page from a public address that loads from a private one."""
    urls: dict[str, str] = {}

    async def index(request: web.Request) -> web.Response:
        base = urls["frontdoor"]
        policy = (f"default-src 'none'; script-src {base}; style-src {base}; connect-src {base}; img-src 'none'; "
                  "base-uri 'none'; form-action 'none'")
        return web.Response(text=host_page(base, urls["host"]), content_type="text/html",
                            headers={"Content-Security-Policy": policy})

    async def left(request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>Search</title><p>neutral page</p>", content_type="text/html")

    site = web.Application()
    site.router.add_get("/", index)
    site.router.add_get("/left", left)
    async with serve(site) as host:
        urls["host"] = host
        settings = replace(settings, web=replace(settings.web, origins=(host,) if allowed else ()))
        async with serve(create_app(settings, redis_url, housekeeping=False)) as base:
            urls["frontdoor"] = base
            yield host, base


async def test_the_widget_embedded_on_the_hotlines_own_site(browser: Browser, settings: Settings, redis: Any,
                                                            redis_url: str) -> None:
    async with embedded(settings, redis_url, allowed=True) as (host, base):
        context = await new_context(browser, host)
        try:
            page = await context.new_page()
            errors: list[str] = []
            page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            await page.goto(host + "/")
            widget = Widget(page)
            await expect(widget.launcher).to_be_visible()
            await expect(widget.launcher).to_have_css("background-color", "rgb(106, 27, 154)")  # data-accent
            await page.get_by_role("link", name="Start a report").click()  # data-frontdoor-open
            await expect(widget.reply(REPORT)).to_be_enabled()
            async with page.expect_response(lambda r: r.url.endswith("/messages")) as answer:
                await widget.choose(REPORT)
            response = await answer.value
            assert response.status == 200 and response.headers["access-control-allow-origin"] == host
            assert (await response.request.all_headers())["origin"] == host
            await expect(widget.said("What did you see or what happened?")).to_be_visible()
            assert errors == []  # nothing the page's CSP had to refuse
            assert all(url.startswith((host + "/", base + "/")) for url in requests), requests
            await widget.quick_exit.click()
            await page.wait_for_url(host + "/left")  # data-exit-url
            assert (await storage(page))["session"] == 0
        finally:
            await context.close()


async def test_a_site_the_server_does_not_allow_gets_no_conversation(browser: Browser, settings: Settings,
                                                                     redis: Any, redis_url: str) -> None:
    async with embedded(settings, redis_url, allowed=False) as (host, base):
        context = await new_context(browser, host)
        try:
            page = await context.new_page()
            await page.goto(host + "/")
            widget = Widget(page)
            await widget.launcher.click()
            await expect(widget.notice).to_have_text(re.compile(r"^We couldn't reach the hotline\."))
            await expect(page.get_by_test_id("fd-message")).to_have_count(0)
            assert (await storage(page))["session"] == 0
        finally:
            await context.close()


# -- 10. screenshots -------------------------------------------------------------------------------

async def test_screenshots_of_the_widget_and_the_form(page: Page) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shots = {}
    widget = await start_page(page)
    await widget.open()
    await widget.choose(REPORT)
    await expect(widget.reply(CSAM)).to_be_visible()
    await page.mouse.move(0, 0)  # no hover colour on the last button clicked
    shots["widget-1280.png"] = DESKTOP
    await page.screenshot(path=ARTIFACTS / "widget-1280.png")
    await page.set_viewport_size(PHONE)
    shots["widget-360.png"] = PHONE
    await page.screenshot(path=ARTIFACTS / "widget-360.png")
    await widget.choose(CSAM)
    await widget.type(LINK)
    for title in (WEBSITE, SKIP, NO, OTHER_ADULT, SKIP, SKIP, SEND_IT):
        await widget.choose(title)
    await expect(widget.receipt).to_have_text(RECEIPT_RE)
    await widget.receipt.scroll_into_view_if_needed()
    await page.mouse.move(0, 0)  # no hover colour on the last button clicked
    shots["widget-receipt-360.png"] = PHONE
    await page.screenshot(path=ARTIFACTS / "widget-receipt-360.png")
    await page.set_viewport_size(DESKTOP)
    await widget.receipt.scroll_into_view_if_needed()
    shots["widget-receipt-1280.png"] = DESKTOP
    await page.screenshot(path=ARTIFACTS / "widget-receipt-1280.png")
    await page.set_viewport_size(PHONE)
    await page.goto("/report")
    await page.screenshot(path=ARTIFACTS / "report-form-360.png", full_page=True)
    shots["report-form-360.png"] = {"width": PHONE["width"], "height": 0}

    for name, viewport in shots.items():
        path = ARTIFACTS / name
        assert path.is_file() and path.stat().st_size > 5_000, name
        width, height = png_size(path)
        assert width == viewport["width"] and height >= viewport["height"], (name, width, height)
