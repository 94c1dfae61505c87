"""A country typed by a reporter, in any shipped language, to its ISO 3166-1 alpha-2 code.

Names come from pycountry (ISO 3166 with its translations), so every country is known in
every language without a list of our own to keep up to date.
"""

from __future__ import annotations

import gettext
import unicodedata
from functools import cache

import pycountry

from .i18n import LOCALES

# Names people type that ISO does not use.
_ALIASES = {
    "uk": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB", "great britain": "GB",
    "britain": "GB", "usa": "US", "us": "US", "america": "US", "united states of america": "US",
    "holland": "NL", "the netherlands": "NL", "russia": "RU", "south korea": "KR", "korea": "KR",
    "czechia": "CZ", "czech republic": "CZ", "deutschland": "DE", "grossbritannien": "GB", "england und wales": "GB",
    "angleterre": "GB", "etats-unis": "US", "amerique": "US", "vereinigte staaten": "US",
}


def _fold(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).replace("’", "'").split())


@cache
def _index() -> dict[str, str]:
    index: dict[str, str] = {}
    translations = {loc: gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[loc], fallback=True)
                    for loc in LOCALES if loc != "en"}
    for country in pycountry.countries:
        code = country.alpha_2
        names = {country.name, getattr(country, "common_name", country.name), getattr(country, "official_name", country.name)}
        for translation in translations.values():
            names |= {translation.gettext(n) for n in list(names)}
        for name in names:
            index.setdefault(_fold(name), code)
        index.setdefault(code.lower(), code)
    for alias, code in _ALIASES.items():
        index[_fold(alias)] = code
    return index


def parse_country(text: str) -> str | None:
    return _index().get(_fold(text))


def country_name(code: str, locale: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    name = getattr(country, "common_name", country.name)
    if locale == "en":
        return str(name)
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[locale], fallback=True).gettext(name)
