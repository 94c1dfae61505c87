"""Words that mean "show the emergency number now": a child in danger, or the reporter at risk.

The lists are curated phrases, not a classifier, so that a content editor can see and
fix exactly why something fired. A phrase matches as whole words anywhere in the text,
after both are folded the same way (see `fold`); a phrase whose last word ends in `*`
matches any word starting with it ("suicid*" finds "suicidal", "Suizid", "suicidaire").
Every locale's lists are checked whatever locale the reporter chose, because people often
write in another language than the one the page is in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Final

# Curly quotes, backticks, accents and primes people type for an apostrophe. They are
# deleted, not spaced, so "don't", "don’t" and "dont" (or "j'ai" and "jai") read the same.
_APOSTROPHES: Final = "'\u2019\u2018\u02bc\u02b9`\u00b4\u2032"
_UMLAUTS: Final = {"ä": "ae", "ö": "oe", "ü": "ue"}
_NOT_WORD_RE: Final = re.compile(r"[\W_]+")


def fold(text: str, *, umlauts: bool = True) -> str:
    """Case, accents, apostrophes and punctuation folded away: "Je veux  MOURIR !" -> "je veux mourir".

    German ä/ö/ü become ae/oe/ue (how they are typed without umlauts); other accents are dropped.
    With `umlauts=False` they are dropped too, for the phrase variant someone typing "toten" for "töten" needs.
    """
    text = unicodedata.normalize("NFKC", text).casefold()  # casefold: "ß" -> "ss", "Ö" -> "ö"
    if umlauts:
        text = "".join(_UMLAUTS.get(ch, ch) for ch in text)
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    text = text.translate({ord(ch): None for ch in _APOSTROPHES})
    return _NOT_WORD_RE.sub(" ", text).strip()


def _pattern(term: str) -> str | None:
    wildcard = term.rstrip().endswith("*")
    variants = {fold(term, umlauts=True), fold(term, umlauts=False)}
    parts = []
    for variant in sorted(variants):
        if not variant:
            continue
        words = variant.split(" ")
        parts.append(" ".join(re.escape(w) for w in words) + (r"\w*" if wildcard else ""))
    if not parts:
        return None
    return "(?:" + "|".join(parts) + ")"


class Matcher:
    """One compiled pattern per kind, over the phrases of every locale."""

    def __init__(self, terms: Mapping[str, Mapping[str, Iterable[str]]]) -> None:
        by_kind: dict[str, list[str]] = {}
        for lists in terms.values():
            for kind, phrases in lists.items():
                by_kind.setdefault(kind, []).extend(p for p in map(_pattern, phrases) if p)
        # Whole words: the folded text has single spaces between words, so a phrase must sit
        # between the text's ends or spaces.
        self._patterns = {kind: re.compile(r"(?<!\S)(?:" + "|".join(parts) + r")(?!\S)")
                          for kind, parts in by_kind.items() if parts}

    def hits(self, text: str) -> set[str]:
        folded = fold(text)
        return {kind for kind, pattern in self._patterns.items() if pattern.search(folded)}
