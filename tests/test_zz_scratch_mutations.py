import pytest
from playwright.async_api import expect
from test_browser import browser, redis, app_settings, server, context, page, start_page, assert_accessible, key_to, pytestmark  # noqa
from browser_helpers import Widget, REPORT, assert_focus_visible, focused

async def test_axe_sees_shadow_contrast(page):
    w = await start_page(page); await w.open()
    await page.evaluate("() => { const r = document.querySelector('frontdoor-chat').shadowRoot; r.querySelector('[data-testid=fd-send]').style.setProperty('color', '#7a9cc0'); }")
    await assert_accessible(page, "mutated contrast")

async def test_axe_sees_shadow_button_name(page):
    w = await start_page(page); await w.open()
    await page.evaluate("() => { const r = document.querySelector('frontdoor-chat').shadowRoot; r.querySelector('[data-testid=fd-close]').removeAttribute('aria-label'); }")
    await assert_accessible(page, "mutated name")

async def test_focus_ring_removed(page):
    w = await start_page(page)
    await page.evaluate("() => { const r = document.querySelector('frontdoor-chat').shadowRoot; const s = new CSSStyleSheet(); s.replaceSync(':focus-visible{outline:none !important; box-shadow:none !important}'); r.adoptedStyleSheets = [s]; }")
    await key_to(page, {"testid": "fd-launcher"})

async def test_storage_at_confirm(page):
    w = await start_page(page)
    await w.open()
    from browser_helpers import CSAM, WEBSITE, SKIP, NO, OTHER_ADULT
    await w.choose(REPORT); await w.choose(CSAM); await w.type("https://example.com/secret-page")
    for t in (WEBSITE, SKIP, NO, OTHER_ADULT, SKIP, SKIP):
        await w.choose(t)
    print(await page.evaluate("() => sessionStorage.getItem('frontdoor-chat')"))
    await page.reload()
    await expect(w.panel).to_be_visible()
    print(await page.get_by_test_id("fd-log").inner_text())
    assert False
