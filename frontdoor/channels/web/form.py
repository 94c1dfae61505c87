"""The no-JavaScript report form (`/report`): the same questions as the dialog, on one page.

For browsers without JavaScript, and for anyone who would rather fill in a form. Labels come
from the dialog's locale files, validation gives inline errors next to each field, and a valid
form goes through the intake exactly as the API and the dialog do.

Each page carries a one-time token (a hidden field): a browser posting the same form again (Back
and resubmit, a reload of the receipt page, a retry after a 503) names the same submission, and the
intake answers it with the first receipt instead of storing it twice. The token counts together with
what the form says, so a form changed after Back is a report of its own.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import aiohttp_jinja2
import orjson
from aiohttp import web

from ...dialog import form as dialog_form
from ...dialog import i18n
from ...dialog.actions import REPORTER_ROLE, resources_for
from ...dialog.countries import country_name
from ...errors import RateLimited
from ...http.receipts import ReceiptLookup
from ...http.ratelimit import RequestLimits
from ...outbox import Outbound
from ...reports import urls
from ...reports.intake import ReportIntake
from ...settings import HotlineSettings
from ..base import answers_in_request
from .pages import page_context, page_locale, read_form
from .receipt import PATH as RECEIPT_PATH
from .receipt import ReceiptPage

if TYPE_CHECKING:
    from ...prevention_content import Catalog

CHANNEL = "web_form"
MAX_URL_LINES = 20
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{22}$")  # secrets.token_urlsafe(16)


def _choices(name: str, locale: str) -> list[tuple[str, str]]:
    spec = dialog_form.SLOTS[name]
    return [(value, i18n.text(locale, f"{spec.label}.{value}")) for value in spec.choices]


def _countries(locale: str) -> list[tuple[str, str]]:
    import pycountry

    names = [(c.alpha_2, country_name(c.alpha_2, locale)) for c in pycountry.countries]
    return sorted(names, key=lambda pair: pair[1].casefold())


class WebForm:
    """The form, and the receipt page (receipt.py) where its receipt is followed without JavaScript.
    `receipts`: the receipt look-up, the API's own (http/receipts.py)."""

    def __init__(self, intake: ReportIntake, catalog: Catalog, limits: RequestLimits, hotline: HotlineSettings,
                 receipts: ReceiptLookup) -> None:
        self._intake = intake
        self._catalog = catalog
        self._limits = limits
        self._hotline = hotline
        self._receipts = ReceiptPage(receipts, hotline)

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return [web.get("/report", self.show_form), web.post("/report", self.submit_form), *self._receipts.routes()]

    def running(self) -> AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()

    async def deliver(self, message: Outbound) -> None:
        raise answers_in_request(CHANNEL)

    async def show_form(self, request: web.Request) -> web.Response:
        return aiohttp_jinja2.render_template("web/report_form.html", request, self._context(page_locale(request), {}, {}))

    async def submit_form(self, request: web.Request) -> web.Response:
        try:
            await self._limits.check(request, "reports")
        except RateLimited as exc:
            return await self._too_many(request, exc.retry_after_s)
        data = await read_form(request)
        locale = page_locale(request, data)
        values = {k: v for k, v in data.items() if isinstance(v, str)}
        fields, errors = _validate(values, locale)
        if errors:
            context = self._context(locale, values, errors)
            return aiohttp_jinja2.render_template("web/report_form.html", request, context, status=400)
        token = values.get("submission", "")
        content = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS).decode()
        dedupe_id = self._intake.dedupe_key(CHANNEL, token, content) if _TOKEN_RE.match(token) else None
        accepted = await self._intake.submit(fields, CHANNEL, dedupe_id=dedupe_id)
        chosen = resources_for(self._catalog, path="report", role=values.get("role"), category=fields["category"],
                               topic=None, country=fields.get("reporter_country"), locale=locale)
        context = self._context(locale, {}, {})
        context.update(receipt=accepted.receipt, resources=chosen)
        return aiohttp_jinja2.render_template("web/report_done.html", request, context)

    async def _too_many(self, request: web.Request, retry_after_s: int) -> web.Response:
        """The form again, as the reporter filled it in, with when to send it: a person reads this
        answer, and losing what they wrote would be the worst of it. The body is read only now that
        the limit refused it (a form is at most FRONTDOOR_MAX_BODY_BYTES)."""
        data = await read_form(request)
        locale = page_locale(request, data)
        values = {k: v for k, v in data.items() if isinstance(v, str)}
        context = self._context(locale, values, {})
        context.update(retry_after=retry_after_s)
        response = aiohttp_jinja2.render_template("web/report_form.html", request, context, status=429)
        response.headers["Retry-After"] = str(retry_after_s)
        return response

    def _context(self, locale: str, values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
        base = page_context(locale, self._hotline, "/report")
        t = base["t"]
        token = values.get("submission", "")  # a form shown again with its errors keeps its token
        return {
            **base, "values": values, "errors": errors, "receipt_page": RECEIPT_PATH,
            "submission": token if _TOKEN_RE.match(token) else secrets.token_urlsafe(16),
            "emergency": self._catalog.emergency_number(self._hotline.country),
            "categories": _choices("category", locale), "wheres": _choices("where_seen", locale),
            "roles": _choices("role", locale), "whens": _choices("when_seen", locale), "countries": _countries(locale),
            # The error summary names each question, so "Please answer this question" is never ambiguous.
            "questions": {"category": t("ask_category"), "urls": t("summary.urls", value="").rstrip(": "),
                          "where_seen": t("ask_where_seen"), "danger": t("ask_danger"), "role": t("ask_role"),
                          "description": t("summary.description", value="").rstrip(": "),
                          "platform": t("ask_platform").split("?")[0] + "?", "account": t("form.account_label"),
                          "contact": t("form.contact_label")},
        }


def _validate(values: dict[str, str], locale: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The form's answers as a submission for build_report, or the errors to show beside each field."""
    errors: dict[str, str] = {}
    required = i18n.text(locale, "form.required")

    def choice(name: str, slot: str) -> str | None:
        value = values.get(name, "")
        if value in dialog_form.SLOTS[slot].choices:
            return value
        return None

    category = choice("category", "category")
    if category is None:
        errors["category"] = required
    links = [line.strip() for line in values.get("urls", "").splitlines() if line.strip()]
    for line in links[:MAX_URL_LINES]:
        try:
            urls.parse(line)
        except urls.UrlError as exc:
            errors["urls"] = i18n.text(locale, f"url_error.{exc.reason}")
            break
    platform = values.get("platform", "").strip()
    account = values.get("account", "").strip()
    if not links and not platform and "urls" not in errors:
        errors["urls"] = i18n.text(locale, "form.platform_needed")
    where = choice("where_seen", "where_seen")
    if where is None:
        errors["where_seen"] = required
    description = values.get("description", "").strip()
    for name, text, cap in (("description", description, 4000), ("platform", platform, 100), ("account", account, 200)):
        if len(text) > cap:
            errors[name] = i18n.text(locale, "form.too_long", limit=cap)
    danger = values.get("danger")
    if danger not in ("yes", "no"):
        errors["danger"] = required
    role = choice("role", "role")
    if role is None:
        errors["role"] = required
    country = values.get("country", "").strip().upper() or None
    if country is not None and not any(code == country for code, _ in _countries("en")):
        country = None
    when = choice("when_seen", "when_seen")
    contact = values.get("contact", "").strip()
    consent = values.get("contact_consent") == "yes"
    if contact and not consent:
        errors["contact"] = i18n.text(locale, "form.contact_needs_consent")
    elif len(contact) > 200:
        errors["contact"] = i18n.text(locale, "form.too_long", limit=200)
    if errors:
        return {}, errors
    fields: dict[str, Any] = {
        "category": category, "urls": links[:MAX_URL_LINES],
        "where_seen": {"type": where, "platform": platform or None, "account": account or None},
        "description": description or None, "reporter_role": REPORTER_ROLE[role or ""],
        "reporter_country": country, "child_in_immediate_danger": danger == "yes", "when_seen": when, "locale": locale,
    }
    if contact and len(contact) >= 3:
        fields.update(contact=contact, contact_consent=True)
    return fields, {}
