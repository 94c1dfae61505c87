"""What every HTML page of the web channels shares: the reporter's language, and the names and
words the base template needs (web/base.html), so the form, the receipt page and the sample page
name the hotline from the one setting and offer the same languages the same way."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

from ...dialog import i18n
from ...errors import InvalidInput, UnsupportedMediaType
from ...settings import HotlineSettings


def page_locale(request: web.Request, data: MultiDictProxy[Any] | None = None) -> str:
    """The language asked for (a form's `lang`, else ?lang=), else the browser's."""
    chosen = (data.get("lang") if data else None) or request.query.get("lang")
    if isinstance(chosen, str) and chosen in i18n.LOCALES:
        return chosen
    return i18n.choose_locale(request.headers.get("Accept-Language"))


def page_context(locale: str, hotline: HotlineSettings, path: str) -> dict[str, Any]:
    """`path`: the page the language links lead back to (in the chosen language)."""
    return {
        "t": lambda key, **kw: i18n.text(locale, key, **kw),  # the templates' one helper
        "locale": locale, "locales": i18n.LOCALES, "page": path, "hotline": hotline.name,
        "language_names": {loc: i18n.text(loc, "language_name") for loc in i18n.LOCALES},
    }


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def read_form(request: web.Request) -> MultiDictProxy[Any]:
    """The submitted fields, or a 4xx JSON error: a body no browser's form would send (no boundary,
    a truncated or nested multipart, bytes that are not text in their charset, an unknown charset or
    transfer encoding, a part's header that is no header) is the client's mistake, not ours. What
    aiohttp raises for each is one of these types; nothing else in `post()` raises them."""
    if request.content_type not in FORM_TYPES:
        raise UnsupportedMediaType("Send the form as application/x-www-form-urlencoded (or multipart/form-data).")
    try:
        return await request.post()
    except (ValueError, LookupError, RuntimeError, HttpProcessingError):
        raise InvalidInput("The form's body could not be read; send it as a browser would.", code="malformed_form") from None
