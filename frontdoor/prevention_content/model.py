"""What the dialog gets from the content files: resources, the lines to show at once, hotlines.

The dataclasses are frozen and hold display-ready text, so the dialog never has to know
about locales, fallbacks or phone-number formats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..errors import FrontdoorError

# The languages every resource and every safeguarding list must be complete in (`content check`).
LOCALES: Final[tuple[str, ...]] = ("en", "de", "fr")
# Text falls back to this locale, so it is the one locale a data file can never leave out.
FALLBACK_LOCALE: Final = "en"
AUDIENCES: Final[tuple[str, ...]] = (
    "child", "teen", "parent_carer", "professional", "bystander", "worried_about_self",
)
TOPICS: Final[tuple[str, ...]] = (
    "image_removal", "sextortion", "grooming", "self_generated", "online_safety",
    "emotional_support", "perpetrator_prevention",
)
SAFEGUARDING_KINDS: Final[tuple[str, ...]] = ("danger_now", "self_harm")


class ContentError(FrontdoorError):
    """The shipped content is broken; the message names the file and the item."""

    code = "content"


@dataclass(frozen=True)
class Resource:
    id: str
    audiences: tuple[str, ...]
    topics: tuple[str, ...]
    countries: tuple[str, ...]  # ISO 3166-1 alpha-2; () means global
    locale: str  # the locale title and body are in, after fallback
    title: str
    body: str  # short Markdown
    url: str | None
    phone: str | None  # as dialled in that country: "116111", "08001111"
    phone_display: str | None  # as printed: "116 111", "0800 1111"
    phone_uri: str | None  # "tel:+448001111" or, for a short number, "tel:116111"


@dataclass(frozen=True)
class CountryLines:
    """What safeguarding shows at once; `country` None means the generic text ("your local emergency number")."""

    country: str | None
    emergency: str
    child_helpline: str | None
    child_helpline_name: str | None
    crisis_line: str | None
    crisis_line_name: str | None


@dataclass(frozen=True)
class Hotline:
    country: str
    name: str
    url: str
    last_verified: str  # ISO date
