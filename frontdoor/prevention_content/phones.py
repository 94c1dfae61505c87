"""Phone numbers in the content: checked against the country they are printed for.

A child in crisis who dials a wrong number may not try again, so every number is checked
with `phonenumbers` for its own country: full national numbers, and the short numbers
(116 111, 119, 988) that most helplines use. Emergency numbers must be ones the library
knows as emergency numbers for that country.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import phonenumbers
from phonenumbers import shortnumberinfo

# As printed: digits with spaces or hyphens between them, an optional leading "+".
_PRINTED_RE: Final = re.compile(r"\+?[0-9](?:[0-9 \-]*[0-9])?")


class PhoneError(ValueError):
    """A number that is not valid for its country; the message says which and why."""


@dataclass(frozen=True)
class Phone:
    display: str  # as printed, "0800 1111"
    dialled: str  # as dialled in the country, "08001111"
    uri: str  # "tel:+448001111"; short numbers have no international form, so "tel:116111"


def phone_for(display: str, region: str) -> Phone:
    if not _PRINTED_RE.fullmatch(display):
        raise PhoneError(f"phone {display!r} must be digits with spaces or hyphens only")
    dialled = re.sub(r"[^0-9+]", "", display)
    try:
        parsed = phonenumbers.parse(display, region)
    except phonenumbers.NumberParseException:
        raise PhoneError(f"phone {display!r} cannot be read as a number for {region}") from None
    if phonenumbers.is_valid_number_for_region(parsed, region):
        return Phone(display, dialled, "tel:" + phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
    # Short numbers are only valid dialled inside the country, so they keep their local form.
    if not dialled.startswith("+") and (
        shortnumberinfo.is_valid_short_number_for_region(parsed, region)
        or shortnumberinfo.is_emergency_number(dialled, region)
    ):
        return Phone(display, dialled, f"tel:{dialled}")
    raise PhoneError(f"phone {display!r} is not a valid number for {region}")


def check_emergency(display: str, region: str) -> None:
    """Raise unless `display` is an emergency number in `region` (112, 999, 911...)."""
    dialled = re.sub(r"[ \-]", "", display)
    if not dialled.isdigit() or not shortnumberinfo.is_emergency_number(dialled, region):
        raise PhoneError(f"emergency number {display!r} is not an emergency number in {region}")


def is_region(code: str) -> bool:
    return code in phonenumbers.SUPPORTED_REGIONS or code in shortnumberinfo.SUPPORTED_SHORT_REGIONS
