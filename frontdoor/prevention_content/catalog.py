"""The catalog the dialog asks: which resources to offer, which numbers to show at once.

Selection is deterministic and small on purpose: a reporter in distress reads three
things at most, and the same answer for the same situation makes the content reviewable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .checks import phone_regions
from .model import AUDIENCES, FALLBACK_LOCALE, SAFEGUARDING_KINDS, TOPICS, CountryLines, Hotline, Resource
from .phones import Phone, phone_for
from .safeguarding import Matcher


@dataclass(frozen=True)
class _Entry:
    """A resource in all its locales; `in_locale` picks the text."""

    id: str
    priority: int
    general: bool
    audiences: tuple[str, ...]
    topics: tuple[str, ...]
    countries: tuple[str, ...]
    url: str | None
    phone: Phone | None
    texts: Mapping[str, tuple[str, str]]  # locale -> (title, body)

    def in_locale(self, locale: str) -> Resource:
        chosen = locale if locale in self.texts else FALLBACK_LOCALE
        title, body = self.texts[chosen]
        return Resource(
            id=self.id, audiences=self.audiences, topics=self.topics, countries=self.countries,
            locale=chosen, title=title, body=body, url=self.url,
            phone=self.phone.dialled if self.phone else None,
            phone_display=self.phone.display if self.phone else None,
            phone_uri=self.phone.uri if self.phone else None,
        )


class Catalog:
    """Build with `load_catalog`, which validates the files first; this class trusts its input."""

    def __init__(self, data: dict[str, dict[str, Any]]) -> None:
        self._entries = tuple(_entry(r) for r in data["resources.yaml"]["resources"])
        self._lines: dict[str | None, CountryLines] = {}
        for item in data["helplines.yaml"]["countries"]:
            lines = _country_lines(item)
            self._lines[lines.country] = lines
        self._hotlines = tuple(
            Hotline(country=h["country"], name=h["name"], url=h["url"], last_verified=h["last_verified"])
            for h in data["hotlines.yaml"]["hotlines"]
        )
        self._terms: dict[str, dict[str, tuple[str, ...]]] = {
            locale: {kind: tuple(lists[kind]) for kind in SAFEGUARDING_KINDS}
            for locale, lists in data["safeguarding.yaml"]["locales"].items()
        }
        self._matcher = Matcher(self._terms)

    def resource_urls(self) -> tuple[str, ...]:
        """Every link the catalog may send a reporter (so a channel can tell them from reported links)."""
        return tuple(e.url for e in self._entries if e.url)

    def select(self, *, audience: str, topic: str | None, country: str | None, locale: str,
               limit: int = 3) -> list[Resource]:
        """At most `limit` resources for this audience: the topic's first, then its general
        ones (helplines that take any worry); within each, the reporter's country before
        global ones, and never another country's. Audience and topic come from the dialog's
        own constants, so an unknown one is a bug and raises ValueError; country and locale
        come from people and never raise."""
        if audience not in AUDIENCES:
            raise ValueError(f"unknown audience {audience!r}")
        if topic is not None and topic not in TOPICS:
            raise ValueError(f"unknown topic {topic!r}")
        region = _region(country)
        language = _language(locale)

        def wanted(entry: _Entry) -> bool:
            return (audience in entry.audiences
                    and (topic in entry.topics or entry.general)
                    and (not entry.countries or (region is not None and region in entry.countries)))

        def rank(entry: _Entry) -> tuple[bool, bool, int, str]:
            return (topic not in entry.topics, not entry.countries, entry.priority, entry.id)

        candidates = sorted(filter(wanted, self._entries), key=rank)
        chosen: list[Resource] = []
        numbers: set[str] = set()
        for entry in candidates:
            if len(chosen) >= limit:
                break
            if entry.phone is not None:
                # One service listed twice (the EU's 116 111 and Germany's Nummer gegen Kummer) is shown once.
                if entry.phone.uri in numbers:
                    continue
                numbers.add(entry.phone.uri)
            chosen.append(entry.in_locale(language))
        return chosen

    def lines_for(self, country: str | None) -> CountryLines:
        """The country's lines, or the generic ones (country None) when we have none for it."""
        region = _region(country)
        return self._lines.get(region) or self._lines[None]

    def emergency_number(self, country: str | None) -> str:
        return self.lines_for(country).emergency

    def hotline_for(self, country: str) -> Hotline | None:
        """The first hotline listed for the country (the file's order decides where there are several)."""
        region = _region(country)
        return next((h for h in self._hotlines if h.country == region), None)

    def hotlines(self) -> list[Hotline]:
        return list(self._hotlines)

    def safeguarding_terms(self, locale: str) -> dict[str, tuple[str, ...]]:
        lists = self._terms.get(_language(locale)) or self._terms[FALLBACK_LOCALE]
        return dict(lists)

    def safeguarding_hits(self, text: str) -> set[str]:
        """Which of "danger_now" and "self_harm" the text signals, in any shipped language."""
        return self._matcher.hits(text)

    def summary(self) -> str:
        countries = sum(1 for c in self._lines if c is not None)
        locales = sorted({loc for e in self._entries for loc in e.texts})
        return (f"{len(self._entries)} resources, {countries} countries with helplines (plus a default), "
                f"{len(self._hotlines)} hotlines, {len(locales)} locales ({', '.join(locales)})")


def _region(country: str | None) -> str | None:
    if not country:
        return None
    code = country.strip().upper()
    return code if len(code) == 2 and code.isascii() and code.isalpha() else None


def _language(locale: str) -> str:
    """"de-AT", "de_CH" and "DE" all read as "de"; anything unreadable falls back to English."""
    primary = locale.replace("_", "-").split("-", 1)[0].strip().lower() if locale else ""
    return primary or FALLBACK_LOCALE


def _entry(raw: dict[str, Any]) -> _Entry:
    phone = None
    if raw.get("phone"):
        phone = phone_for(raw["phone"], phone_regions(raw)[0])
    return _Entry(
        id=raw["id"], priority=raw["priority"], general=raw.get("general", False), audiences=tuple(raw["audiences"]), topics=tuple(raw["topics"]),
        countries=tuple(raw["countries"]), url=raw.get("url"), phone=phone,
        texts={loc: (t["title"].strip(), t["body"].strip()) for loc, t in raw["text"].items()},
    )


def _country_lines(raw: dict[str, Any]) -> CountryLines:
    country = None if raw["country"] == "default" else raw["country"]
    child = raw.get("child_helpline") or {}
    crisis = raw.get("crisis_line") or {}
    return CountryLines(
        country=country, emergency=raw["emergency"],
        child_helpline=child.get("number"), child_helpline_name=child.get("name"),
        crisis_line=crisis.get("number"), crisis_line_name=crisis.get("name"),
    )
