"""Between analysts and the scripts: an analyst's action as the arguments assess.lua takes, a case and its
audit trail as the JSON the API shows (times in ISO 8601 UTC, the URL defanged so that no console
turns it into a link; frontdoor never fetches it).
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta, timezone
from typing import Any

from ..errors import InvalidInput
from ..reports import urls

CLOCK_SKEW_MS = 5 * 60_000  # tolerated difference between an analyst's clock and ours


def utc_day(ms: int) -> str:
    return _day(ms // 86_400_000)


@functools.lru_cache(maxsize=4)
def _day(days_since_epoch: int) -> str:
    """Every submit names its day; formatting a datetime each time costs more than the rest of its arguments."""
    return (date(1970, 1, 1) + timedelta(days=days_since_epoch)).isoformat()


def iso(ms: int | str | None) -> str | None:
    if ms in (None, ""):
        return None
    return datetime.fromtimestamp(int(ms) / 1000, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def analyst_action(action: dict[str, Any], now: int) -> dict[str, Any]:
    at = now
    if "at" in action:
        try:
            when = datetime.fromisoformat(action["at"].replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"actions: {action['type']}: 'at' must be a date-time such as 2026-03-02T09:00:00Z",
                               code="invalid_field") from None
        if when.tzinfo is None:  # a time without an offset would be read in the server's zone
            raise InvalidInput(f"actions: {action['type']}: 'at' needs a time zone, e.g. a trailing Z for UTC", code="invalid_field")
        at = int(when.timestamp() * 1000)
        if at > now + CLOCK_SKEW_MS:
            raise InvalidInput(f"actions: {action['type']} cannot happen in the future", code="invalid_field")
        # assess.lua refuses a time before the case was opened (it knows when that was).
    out = {"type": action["type"], "at": at, "day": utc_day(at)}
    for key in ("partner_country", "reference"):
        if key in action:
            out[key] = action[key]
    return out


_TIMES = ("created_at", "lease_until", "assessed_at", "forwarded_at", "forwarded_le_at", "forwarded_partner_at",
          "ntd_sent_at", "removed_at", "closed_at")


def case_view(fields: dict[str, str]) -> dict[str, Any]:
    """The case as analysts see it: the URL also defanged for display, and never fetched."""
    defang = urls.defang
    view: dict[str, Any] = {
        "id": fields["id"],
        "status": fields["status"],
        "lane": fields["lane"],
        "url": fields.get("url"),
        "url_defanged": defang(fields["url"]) if fields.get("url") else None,
        # Only kept when the reporter's form differs from the normalized one (saves memory per case).
        "url_original_defanged": defang(fields.get("url_original") or fields["url"]) if fields.get("url") else None,
        "report_count": int(fields["report_count"]),
        "reporter_categories": fields.get("categories", "").split(),
        "classification": fields.get("classification"),
        "hosting_country": fields.get("hosting_country"),
        "partner_country": fields.get("partner_country"),
        "assessed_by": fields.get("assessed_by"),
        "claimed_by": fields.get("claimed_by"),
        "note": fields.get("note"),
        "previous_case": fields.get("previous_case"),
        "next_case": fields.get("next_case"),
    }
    for name in _TIMES:
        view[name] = iso(fields.get(name))
    return view


def audit_view(entry: dict[str, Any]) -> dict[str, Any]:
    entry = {k: v for k, v in entry.items() if v is not False}  # cjson has no null: false stands for "none"
    entry["t"] = iso(entry["t"])
    if "at" in entry:
        entry["at"] = iso(entry["at"])
    return entry
