"""The no-JavaScript receipt page (`/receipt`): a reporter types their receipt code and reads, in
their language, how far their report has come.

The code is posted, never put in the URL, so it stays out of the address bar, the history, access
logs and any Referer. A look-up here is the API's own (`GET /api/v1/receipts/{code}`,
http/receipts.py): the same per-client limit, the same pace for all clients, the same answer. A
code that cannot be one and a code no report has get the same page: telling them apart would only
help a guesser. Too many look-ups get a page in the reporter's language with
Retry-After, not the API's JSON, since a person reads this answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from ... import ids
from ...errors import RateLimited
from ...http.receipts import ReceiptLookup
from ...settings import HotlineSettings
from .pages import page_context, page_locale, read_form

PATH = "/receipt"
MAX_CODE_CHARS = 40  # what a reporter might type around a code (spaces, dashes); longer is no code
NO_STORE = {"Cache-Control": "no-store"}  # a status page is the reporter's own: no cache keeps it


class ReceiptPage:
    def __init__(self, receipts: ReceiptLookup, hotline: HotlineSettings) -> None:
        self._receipts = receipts
        self._hotline = hotline

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return [web.get(PATH, self.show), web.post(PATH, self.check)]

    async def show(self, request: web.Request) -> web.Response:
        return self._render(request, self._context(page_locale(request)))

    async def check(self, request: web.Request) -> web.Response:
        data = await read_form(request)
        locale = page_locale(request, data)
        context = self._context(locale)
        code = data.get("code")
        typed = code if isinstance(code, str) and len(code) <= MAX_CODE_CHARS else ""
        try:
            status = await self._receipts.status(request, typed)
        except RateLimited as exc:
            context.update(retry_after=exc.retry_after_s)
            return self._render(request, context, status=429, headers={"Retry-After": str(exc.retry_after_s)})
        if status is None:
            context.update(not_found=True, typed=typed)
            return self._render(request, context, status=404)
        context.update(status=status, receipt=ids.canonical_receipt(typed))
        return self._render(request, context)

    def _context(self, locale: str) -> dict[str, Any]:
        return {**page_context(locale, self._hotline, PATH), "example": ids.RECEIPT_EXAMPLE}

    @staticmethod
    def _render(request: web.Request, context: dict[str, Any], *, status: int = 200,
                headers: dict[str, str] | None = None) -> web.Response:
        response = aiohttp_jinja2.render_template("web/receipt.html", request, context, status=status)
        response.headers.update({**NO_STORE, **(headers or {})})
        return response
