"""Prompts in every shipped language, and choosing a language from a channel's hint.

The locale files are the one source of every sentence the dialog says; the Rasa domain's
responses are generated from them too (see domain.py).
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import yaml

LOCALES: tuple[str, ...] = ("en", "de", "fr")
DEFAULT = "en"


@cache
def catalog(locale: str) -> dict[str, str]:
    raw = resources.files("frontdoor.dialog.locales").joinpath(f"{locale}.yml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(raw)
    return {str(k): str(v) for k, v in data.items()}


def text(locale: str, key: str, **values: Any) -> str:
    """The sentence for `key` in `locale` (English when a key is missing, which a test forbids)."""
    template = catalog(locale if locale in LOCALES else DEFAULT).get(key) or catalog(DEFAULT)[key]
    return template.format(**values) if values else template


@lru_cache(maxsize=256)  # hints repeat (browsers, mail clients); parsing one costs more than the lookup
def choose_locale(hint: str | None) -> str:
    """The best shipped locale for a channel's hint: an Accept-Language header
    ("de-CH,de;q=0.9,en;q=0.8"), Telegram's language_code ("fr") or a Content-Language."""
    if not hint:
        return DEFAULT
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(hint.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        match = re.search(r"q\s*=\s*([0-9.]+)", params, re.IGNORECASE)
        if match:
            try:
                q = float(match.group(1))
            except ValueError:
                q = 0.0
        language = re.split(r"[-_]", tag.strip().lower(), maxsplit=1)[0]
        if language in LOCALES and q > 0:
            ranked.append((-q, i, language))
    return min(ranked)[2] if ranked else DEFAULT


def parse_language_choice(value: str) -> str | None:
    """A reporter naming a language: a code ("de"), or its name in any shipped language."""
    cleaned = value.strip().lower()
    if cleaned in LOCALES:
        return cleaned
    for locale in LOCALES:
        if cleaned == catalog(locale)["language_name"].lower():
            return locale
    return None
