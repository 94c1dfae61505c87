"""Helpers for tests/test_browser.py: the real app on a real port, Debian's Chromium, the widget.

Playwright drives the Chromium that Debian installs (`apt-get install chromium`), never a
browser Playwright downloads. Playwright's CSS and role locators pierce the widget's open
shadow root, so the widget's `data-testid` hooks are used directly.
"""

from __future__ import annotations

import re
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web
from playwright.async_api import Browser, Locator, Page, Playwright, expect
from support import REPO

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
RECEIPT_RE = re.compile(r"^[0-9A-Z]{5}-[0-9A-Z]{5}$")
ARTIFACTS = REPO / "test-artifacts"

# Texts from frontdoor/dialog/locales/en.yml (the dialog's words, shown by the widget as they come).
REPORT = "Report something I saw online"
CSAM = "Pictures or videos of a child being sexually abused"
SEXTORTION = "Someone threatening to share sexual pictures"
NO_LINK = "I don't have a link"
WEBSITE = "A website"
SOCIAL_MEDIA = "Social media"
SKIP = "Skip"
NO = "No"
OTHER_ADULT = "I'm another adult"
TEEN = "I'm a teenager (13 to 17)"
SEND_IT = "Send it"
ASK_URLS = "Please copy the web address (the link) of the page here."
NO_SCHEME = "A web address starts with http:// or https://"
BUSY = "Please wait a moment before sending again."  # the widget's own words (widget.js STRINGS)
EXPIRED = "This conversation has ended. We are starting a new one."


async def launch(playwright: Playwright) -> Browser:
    if not CHROMIUM.exists():
        raise AssertionError(f"{CHROMIUM} is missing: the browser tests need Debian's Chromium "
                             "(`apt-get install chromium`; .ci/run installs it)")
    return await playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """The app on 127.0.0.1 on a port the OS picked (bound before aiohttp sees it: no race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


# -- the page as the browser sees it ---------------------------------------------------------

# The element that really has focus, through shadow roots, and how its focus is drawn.
FOCUSED_JS = """() => {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  return {
    tag: el.tagName.toLowerCase(), testid: el.getAttribute('data-testid'), text: (el.textContent || '').trim(),
    type: el.getAttribute('type'), href: el.getAttribute('href'),
    outline: style.outlineStyle, outlineWidth: style.outlineWidth, shadow: style.boxShadow,
    focusVisible: el.matches(':focus-visible'),
  };
}"""


async def focused(page: Page) -> dict[str, Any] | None:
    return await page.evaluate(FOCUSED_JS)


def assert_focus_visible(info: dict[str, Any] | None) -> None:
    assert info is not None, "nothing has focus"
    drawn = (info["outline"] != "none" and info["outlineWidth"] not in ("0px", "")) or info["shadow"] != "none"
    assert info["focusVisible"] and drawn, f"focus is not visible on {info}"


async def storage(page: Page) -> dict[str, Any]:
    return await page.evaluate("""() => ({
      session: sessionStorage.length, local: localStorage.length,
      widget: sessionStorage.getItem('frontdoor-chat'), cookie: document.cookie })""")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def serious(results: Any) -> list[dict[str, Any]]:
    return [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:5]:
            lines.append(f"    {node['target']}: {node.get('failureSummary', '')!r} {node['html'][:200]}")
    return "\n".join(lines)


class Widget:
    """The chat widget on a page, driven as a person would: clicks, typing, keys."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.launcher = page.get_by_test_id("fd-launcher")
        self.panel = page.get_by_test_id("fd-panel")
        self.log = page.get_by_test_id("fd-log")
        self.input = page.get_by_test_id("fd-input")
        self.send = page.get_by_test_id("fd-send")
        self.notice = page.get_by_test_id("fd-notice")
        self.wait = page.get_by_test_id("fd-wait")
        self.receipt = page.get_by_test_id("fd-receipt")
        self.resources = page.get_by_test_id("fd-resource")
        self.quick_exit = page.get_by_test_id("fd-quick-exit")
        self.typing = page.get_by_test_id("fd-typing")
        self.mine = page.locator("[data-testid=fd-message][data-from=you]")

    def reply(self, title: str) -> Locator:
        """The quick reply with exactly this title that can still be chosen (earlier ones are disabled)."""
        return self.page.locator("[data-testid=fd-quick-reply]:enabled").filter(
            has_text=re.compile("^" + re.escape(title) + "$"))

    def said(self, text: str, who: str = "hotline") -> Locator:
        return self.page.locator(f"[data-testid=fd-message][data-from={who}]").filter(has_text=text)

    async def open(self) -> None:
        await self.launcher.click()
        await expect(self.panel).to_be_visible()
        await expect(self.reply(REPORT)).to_be_visible()

    async def answered(self, before: int) -> None:
        """Wait until the reporter's message is in the log and the hotline's answer has come."""
        await expect(self.mine).to_have_count(before + 1)
        await expect(self.typing).to_be_hidden()

    async def choose(self, title: str) -> None:
        before = await self.mine.count()
        await self.reply(title).click()
        await self.answered(before)

    async def type(self, text: str) -> None:
        before = await self.mine.count()
        await self.input.click()
        await self.input.press_sequentially(text)
        await self.input.press("Enter")
        await self.answered(before)

    async def report_csam_link(self, link: str = "https://example.com/web-page") -> str:
        """The shortest full report, by clicking and typing; returns the receipt code shown."""
        await self.open()
        await self.choose(REPORT)
        await self.choose(CSAM)
        await expect(self.input).to_have_attribute("type", "url")
        await self.type(link)
        for title in (WEBSITE, SKIP, NO, OTHER_ADULT, SKIP, SKIP, SEND_IT):
            await self.choose(title)
        await expect(self.receipt).to_have_text(RECEIPT_RE)
        return (await self.receipt.text_content() or "").strip()
