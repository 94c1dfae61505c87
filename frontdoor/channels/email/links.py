"""The links an e-mail reports, found in linear time and never more than the report can hold.

A report names at most MAX_URLS pages, and a message can be a wall of links, so at most
MAX_URL_CANDIDATES strings are tried as URLs; the links beyond either are counted (limits.Omitted). Links are dropped that carry the sender's address
(an unsubscribe link would store it) or point at the hotline's own hosts (replies to our
auto-reply quote the helplines it recommended).
"""

from __future__ import annotations

import re
from typing import Final

from ...reports import urls
from .limits import MAX_URL_CANDIDATES, MAX_URLS

__all__ = ["accepted_urls", "counted_url_candidates", "url_candidates", "without_urls"]

# A URL token: from "http(s)://" (urls.URL_START_RE, then urls.url_start) to the next space.
_URL_TOKEN_RE: Final = re.compile(urls.URL_START_RE.pattern + r"\S*", re.IGNORECASE)
# find_urls trims trailing ")" one at a time, recounting the URL each time: quadratic in a
# token's length, so each candidate is looked for in a window a little longer than a URL can be.
_URL_WINDOW_CHARS: Final = urls.MAX_URL_LENGTH + 64


def without_urls(text: str) -> str:
    """Every URL token (from "http(s)://" to the next space) replaced by a space: the prose
    the category and language are guessed from, which a path's words must not sway."""
    out: list[str] = []
    pos = 0
    for m in _URL_TOKEN_RE.finditer(text):
        out += (text[pos: urls.url_start(m)], " ")
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


def url_candidates(text: str) -> list[str]:
    """The URLs in `text` as `urls.find_urls` reads them, each looked for in a bounded window."""
    return counted_url_candidates(text, MAX_URL_CANDIDATES)[0]


def counted_url_candidates(text: str, room: int) -> tuple[list[str], int]:
    """At most `room` of `url_candidates(text)`, and how many URL starts were left after them, not
    looked at (counted by the regular expression alone: cheap, and never more than the text holds)."""
    found: list[str] = []
    pos = 0
    starts = urls.URL_START_RE.finditer(text)
    if room <= 0:
        return found, sum(1 for _ in starts)
    for m in starts:
        start = urls.url_start(m)
        if start < pos:
            continue
        window = text[start: start + _URL_WINDOW_CHARS].split(None, 1)[0]
        hits = urls.find_urls(window)
        if hits:
            found.append(hits[0])
            pos = start + len(hits[0])
        if len(found) >= room:
            break
    return found, sum(1 for _ in starts)


def accepted_urls(candidates: list[str], addresses: list[str], own_hosts: frozenset[str]) -> tuple[tuple[str, ...], int]:
    """The links to report: valid, not ours, not naming the sender, one per normalized form; at
    most MAX_URLS of them, and how many more such links the candidates held."""
    accepted: list[str] = []
    seen: set[str] = set()
    for candidate in dict.fromkeys(candidates[:MAX_URL_CANDIDATES]):
        lowered = candidate.lower()
        if any(a in lowered or a.replace("@", "%40") in lowered for a in addresses):
            continue  # a link carrying the sender's address (an unsubscribe link, say) would store it
        try:
            url = urls.parse(candidate)
        except urls.UrlError:
            continue
        if url.host in own_hosts:
            continue
        if url.normalized not in seen:
            seen.add(url.normalized)
            accepted.append(url.original)
    return tuple(accepted[:MAX_URLS]), max(len(accepted) - MAX_URLS, 0)
