"""Remove the reporter's contact details from free text before it is stored.

Reports are anonymous; people still type their phone number or e-mail address into a
description. What we keep must not identify them, so this errs towards removing too much,
except inside URLs, which are the evidence and are kept exactly.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Final

import phonenumbers

from frontdoor.reports.urls import find_urls

__all__ = ["EMAIL_MARK", "PHONE_MARK", "redact", "region_for"]

PHONE_MARK: Final = "[phone removed]"
EMAIL_MARK: Final = "[email removed]"

# Common user-typed country codes that are not ISO 3166 region codes.
_REGION_ALIASES: Final = {"UK": "GB"}


def region_for(country: str | None, locale: str | None) -> str | None:
    for candidate in (_region_from_country(country), _region_from_locale(locale)):
        if candidate is not None:
            return candidate
    return None


def _supported(code: str) -> str | None:
    code = code.strip().upper()
    code = _REGION_ALIASES.get(code, code)
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


def _region_from_country(country: str | None) -> str | None:
    return _supported(country) if country else None


def _region_from_locale(locale: str | None) -> str | None:
    if not locale:
        return None
    # "en-GB", "en_GB", "zh-Hant-TW", "en_GB.UTF-8@euro": the region is the 2-letter subtag after the language.
    tag = re.split(r"[.@]", locale.strip(), maxsplit=1)[0]
    for subtag in re.split(r"[-_]", tag)[1:]:
        if len(subtag) == 2 and subtag.isascii() and subtag.isalpha():
            return _supported(subtag)
    return None


_LOCAL_CHARS: Final = r"[\w!#$%&'*+/=?^`{|}~\-]"
_LABEL: Final = r"[^\W_](?:[\w\-]*[^\W_])?"
_AT_WORD: Final = r"[\[({]\s*at\s*[\])}]"  # "[at]", "(at)", "{ at }": written for "@" by people hiding an address
_EMAIL_RE: Final = re.compile(
    # The lookbehind makes every attempt start at the beginning of a word, keeping this linear.
    rf"(?<![\w!#$%&'*+/=?^`{{|}}~.\-]){_LOCAL_CHARS}++(?:\.{_LOCAL_CHARS}++)*+"
    rf"(?:@{_LABEL}(?:\.{_LABEL})*"
    # "jane [at] example [dot] org": people obfuscate addresses, and they are still theirs.
    rf"|\s*{_AT_WORD}\s*{_LABEL}(?:(?:\.|\s*[\[({{]\s*dot\s*[\])}}]\s*){_LABEL})+)",
    re.IGNORECASE,
)
# What every e-mail address _EMAIL_RE removes contains: "@" or an obfuscated "at" (see
# _may_hold_an_address). That regex has no literal prefix, so Python's re tries it at every word
# of the text; most descriptions hold neither.
_AT_WORD_RE: Final = re.compile(_AT_WORD, re.IGNORECASE)
# What every phone number contains: phonenumbers' matcher and _DIGIT_RUN_RE both start a match
# only at a \d (a Unicode decimal digit), so text without one has no number to remove.
_DIGIT_RE: Final = re.compile(r"\d")

# The fallback for numbers phonenumbers does not recognise (unknown region, local or odd
# formats): any run of 9+ digits separated by at most single spaces, dots, dashes, slashes
# or parentheses. Under-redaction is the privacy failure that matters; losing a long digit
# run from a description costs the analyst little.
_DIGIT_RUN_RE: Final = re.compile(r"\+?\(?\d(?:(?:[ .\-/]|\) ?| ?\()?\d){8,}+\)?")

# Not phone numbers, and worth keeping for an analyst: dates, date-plus-hour when a
# ":minutes" follows, and dotted-quad IPv4 addresses ("the site was on 203.0.113.5").
_DATE_RE: Final = re.compile(
    r"(?:(?:19|20)\d\d([./\-])[01]?\d\1[0-3]?\d|[0-3]?\d([./\-])[01]?\d\2(?:19|20)\d\d)(?P<hour> [0-2]?\d)?"
)
_MINUTES_RE: Final = re.compile(r":[0-5]\d")
# With some regions (DE, AT, ...) POSSIBLE accepts two-digit "numbers", which would remove
# every count, page number and minute in a description. Nothing shorter than this is a
# number someone could be reached on without context we do not have anyway.
_MIN_PHONE_DIGITS: Final = 5
_DOTTED_QUAD_RE: Final = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


def redact(text: str, *, region: str | None) -> str:
    region = _supported(region) if region else None
    # Redacting can change what is around a match (and so what phonenumbers matches next
    # time), so repeat until nothing changes; that makes redact idempotent by construction.
    # It terminates: every change removes at least one digit, "@" or "[at]" and adds none.
    while True:
        redacted = _redact_once(text, region)
        if redacted == text:
            return redacted
        text = redacted


def _redact_once(text: str, region: str | None) -> str:
    out: list[str] = []
    pos = 0
    for url in find_urls(text):
        start = text.find(url, pos)  # find_urls returns URLs in order, so this is its span
        out.append(_redact_plain(text[pos:start], region))
        out.append(url)
        pos = start + len(url)
    out.append(_redact_plain(text[pos:], region))
    return "".join(out)


def _redact_plain(text: str, region: str | None) -> str:
    if _may_hold_an_address(text):
        text = _EMAIL_RE.sub(EMAIL_MARK, text)
    if not _has_digit(text):
        return text
    # Whole digit runs first: phonenumbers may split an unfamiliar run and leave a stub behind.
    text = _replace(text, ((m.start(), m.end()) for m in _DIGIT_RUN_RE.finditer(text)))
    for matcher_region in dict.fromkeys((region, None)):
        matches = phonenumbers.PhoneNumberMatcher(text, matcher_region, leniency=phonenumbers.Leniency.POSSIBLE)
        text = _replace(text, ((m.start, m.end) for m in matches))
    return text


def _has_digit(text: str) -> bool:
    """Whether _DIGIT_RE finds a digit; in ASCII text by ten substring searches (a regex tests \\d at every
    character, ~20 times slower on a description)."""
    if text.isascii():
        return any(digit in text for digit in "0123456789")
    return _DIGIT_RE.search(text) is not None


def _may_hold_an_address(text: str) -> bool:
    if "@" in text:
        return True
    # The obfuscated "at" is tried only where a bracket opens: a search for the pattern would try
    # every character, which costs more than the rest of a description's redaction.
    for opener in "[({":
        at = text.find(opener)
        while at >= 0:
            if _AT_WORD_RE.match(text, at):
                return True
            at = text.find(opener, at + 1)
    return False


def _replace(text: str, spans: Iterable[tuple[int, int]]) -> str:
    out: list[str] = []
    pos = 0
    for start, end in spans:
        if start < pos or _is_not_a_phone(text, start, end):
            continue
        out.append(text[pos:start])
        out.append(PHONE_MARK)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _is_not_a_phone(text: str, start: int, end: int) -> bool:
    candidate = text[start:end]
    if sum(ch.isdigit() for ch in candidate) < _MIN_PHONE_DIGITS:
        return True
    date = _DATE_RE.fullmatch(candidate)
    if date is not None and (date.group("hour") is None or _MINUTES_RE.match(text, end)):
        return True
    if _DOTTED_QUAD_RE.fullmatch(candidate):
        try:
            ipaddress.IPv4Address(candidate)
        except ValueError:
            return False
        return True
    return False
