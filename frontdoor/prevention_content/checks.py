"""What a schema cannot say: numbers valid for their country, URLs in their normal form,
unique ids, complete translations, and files that agree with each other.

Each check returns problems as "file: item: what is wrong". Loading runs them all except
translation completeness (a missing translation falls back to English); `content check`
and CI run them all, so a shipped locale is always complete.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from ..reports import urls
from .model import FALLBACK_LOCALE
from .phones import PhoneError, check_emergency, is_region, phone_for
from .safeguarding import fold


def all_problems(data: dict[str, dict[str, Any]], locales: Iterable[str]) -> list[str]:
    locales = tuple(dict.fromkeys((FALLBACK_LOCALE, *locales)))
    problems: list[str] = []
    if "resources.yaml" in data:
        problems += resource_problems(data["resources.yaml"]["resources"], locales)
    if "helplines.yaml" in data:
        problems += helpline_problems(data["helplines.yaml"]["countries"])
    if "hotlines.yaml" in data:
        problems += hotline_problems(data["hotlines.yaml"]["hotlines"])
    if "safeguarding.yaml" in data:
        problems += safeguarding_problems(data["safeguarding.yaml"]["locales"], locales)
    if "resources.yaml" in data and "helplines.yaml" in data:
        covered = {entry["country"] for entry in data["helplines.yaml"]["countries"]}
        for res in data["resources.yaml"]["resources"]:
            for country in res["countries"]:
                if country not in covered:
                    problems.append(f"resources.yaml: {res['id']}: country {country} has no entry in helplines.yaml, "
                                    "so safeguarding there would show only the generic text")
    return problems


def resource_problems(resources: list[dict[str, Any]], locales: tuple[str, ...]) -> list[str]:
    problems = []
    for rid, count in Counter(r["id"] for r in resources).items():
        if count > 1:
            problems.append(f"resources.yaml: {rid}: id is used by {count} resources")
    for res in resources:
        where = f"resources.yaml: {res['id']}"
        countries = res["countries"]
        for country in countries:
            if not is_region(country):
                problems.append(f"{where}: country {country!r} is not a known country code")
        problems += [f"{where}: {p}" for p in _url_problems(res.get("url"), https_only=True)]
        problems += [f"{where}: {p}" for p in _resource_phone_problems(res)]
        for locale in locales:
            if locale not in res["text"]:
                problems.append(f"{where}: no title and body in locale {locale!r}")
        for locale, text in res["text"].items():
            for key in ("title", "body"):
                if not text[key].strip():
                    problems.append(f"{where}: {key} in locale {locale!r} is blank")
    return problems


def phone_regions(res: dict[str, Any]) -> tuple[str, ...]:
    """The countries a resource's phone must be valid in: its phone_country, else every listed country."""
    if res.get("phone_country"):
        return (res["phone_country"],)
    return tuple(res["countries"])


def _resource_phone_problems(res: dict[str, Any]) -> list[str]:
    phone = res.get("phone")
    if phone is None:
        if res.get("phone_country"):
            return ["phone_country is set but there is no phone"]
        return []
    regions = phone_regions(res)
    if not regions:
        return ["a global resource with a phone must say which country it is for (phone_country)"]
    if res.get("phone_country") and res["countries"] and res["phone_country"] not in res["countries"]:
        return [f"phone_country {res['phone_country']} is not one of the resource's countries"]
    problems = []
    for region in regions:
        if not is_region(region):
            continue  # reported once as an unknown country
        try:
            phone_for(phone, region)
        except PhoneError as exc:
            problems.append(str(exc))
    return problems


def helpline_problems(entries: list[dict[str, Any]]) -> list[str]:
    problems = []
    counts = Counter(e["country"] for e in entries)
    for country, count in counts.items():
        if count > 1:
            problems.append(f"helplines.yaml: {country}: {count} entries for the same country")
    if counts["default"] != 1:
        problems.append("helplines.yaml: default: there must be exactly one entry with country: default")
    for entry in entries:
        country = entry["country"]
        where = f"helplines.yaml: {country}"
        if country == "default":
            if entry.get("child_helpline") or entry.get("crisis_line"):
                problems.append(f"{where}: the default entry cannot name a helpline: no number works in every country")
            continue
        if not is_region(country):
            problems.append(f"{where}: not a known country code")
            continue
        try:
            check_emergency(entry["emergency"], country)
        except PhoneError as exc:
            problems.append(f"{where}: {exc}")
        for key in ("child_helpline", "crisis_line"):
            line = entry.get(key)
            if line is None:
                continue
            try:
                phone_for(line["number"], country)
            except PhoneError as exc:
                problems.append(f"{where}: {key}: {exc}")
    return problems


def hotline_problems(hotlines: list[dict[str, Any]]) -> list[str]:
    problems = []
    for key, count in Counter((h["country"], h["name"]) for h in hotlines).items():
        if count > 1:
            problems.append(f"hotlines.yaml: {key[0]} {key[1]}: listed {count} times")
    for hotline in hotlines:
        where = f"hotlines.yaml: {hotline['country']} {hotline['name']}"
        if not is_region(hotline["country"]):
            problems.append(f"{where}: country {hotline['country']!r} is not a known country code")
        problems += [f"{where}: {p}" for p in _url_problems(hotline["url"], https_only=False)]
    return problems


def safeguarding_problems(lists: dict[str, dict[str, list[str]]], locales: tuple[str, ...]) -> list[str]:
    problems = []
    for locale in locales:
        if locale not in lists:
            problems.append(f"safeguarding.yaml: {locale}: no phrase lists for this locale")
    for locale, kinds in lists.items():
        for kind, phrases in kinds.items():
            if not phrases:
                problems.append(f"safeguarding.yaml: {locale}: {kind} is empty")
            for phrase in phrases:
                if len(fold(phrase.rstrip("*"))) < 3:
                    problems.append(f"safeguarding.yaml: {locale}: {kind}: {phrase!r} is too short to match safely")
    return problems


def _url_problems(url: str | None, *, https_only: bool) -> list[str]:
    if url is None:
        return []
    if url != url.strip() or any(ch.isspace() for ch in url):
        return [f"url {url!r} contains spaces"]
    try:
        parsed = urls.parse(url)
    except urls.UrlError as exc:
        return [f"url {url!r} is not a valid web address ({exc.reason})"]
    problems = []
    if https_only and not url.startswith("https://"):
        problems.append(f"url {url!r} must use https")
    if parsed.normalized != url:
        problems.append(f"url {url!r} is not in normal form; write {parsed.normalized!r}")
    if "." not in parsed.host or parsed.host.replace(".", "").isdigit() or parsed.host.startswith("["):
        problems.append(f"url {url!r} must name a site, not an address")
    return problems
