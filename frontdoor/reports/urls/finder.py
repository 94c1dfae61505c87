"""Finding URLs in running text (a chat message, an e-mail body), as a reader would see them end:
before trailing punctuation, at an unbalanced bracket, where a top-level domain runs into a word.

Linear in the text: runs of URL characters are matched by the re module at C speed.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

# "http://" and "https://" in any case (what r"https?://" with IGNORECASE finds), looked for from
# their "://": Python's re searches a pattern that starts with a literal at C speed, and tries one
# that starts with "https?" at every character (~15 times slower on an e-mail). Group 1 is set
# for "https"; url_start gives where the scheme begins.
URL_START_RE: Final = re.compile(r"://(?:(?<=https://)()|(?<=http://))", re.IGNORECASE)
_ASCII_URL_CHARS: Final = frozenset(chr(c) for c in range(0x21, 0x7F)) - frozenset('<>"`')
_TRAILING: Final = frozenset(".,;:!?'\"*")
_CLOSERS: Final = {")": "(", "]": "[", "}": "{", ">": "<"}
_TLD_PREFIX_RE: Final = re.compile(r"xn--[a-z0-9\-]+|[a-z]+|[0-9]+|[^\x00-\x7f]+", re.IGNORECASE)


def find_urls(text: str) -> list[str]:
    return [text[s:e] for s, e in _url_spans(text)]


def url_start(m: re.Match[str]) -> int:
    """Where the scheme of a URL_START_RE match begins."""
    return m.start() - (5 if m.group(1) is not None else 4)


def _url_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    pos = 0
    while (m := URL_START_RE.search(text, pos)) is not None:
        start = url_start(m)
        end = _scan_url(text, m.end()) if start >= pos else m.end()  # a scheme begun inside the last URL is none
        if end > m.end():
            spans.append((start, end))
            pos = end
        else:
            pos = m.end()
    return spans


def _host_char(ch: str) -> bool:
    if ch.isascii():
        return ch in _ASCII_URL_CHARS and ch not in "/\\?#"
    # Non-ASCII letters, marks and digits occur in internationalised host names;
    # non-ASCII punctuation ("。", "，", "」") ends the URL in running text.
    return unicodedata.category(ch)[0] in "LMN"


# Runs of the ASCII characters _host_char accepts, and of _ASCII_URL_CHARS: matched at C speed
# where _scan_url would otherwise test character by character.
_ASCII_HOST_RUN_RE: Final = re.compile(
    "[" + re.escape("".join(sorted(c for c in _ASCII_URL_CHARS if c not in "/\\?#"))) + "]*")
_ASCII_URL_RUN_RE: Final = re.compile("[" + re.escape("".join(sorted(_ASCII_URL_CHARS))) + "]*")


def _scan_url(text: str, start: int) -> int:
    """Where a URL whose "scheme://" ends at `start` ends; `start` if it has no host."""
    n = len(text)
    i = _ASCII_HOST_RUN_RE.match(text, start).end()  # type: ignore[union-attr]  # "*": always matches
    while i < n and not text[i].isascii() and _host_char(text[i]):  # an internationalised host name
        i = _ASCII_HOST_RUN_RE.match(text, i + 1).end()  # type: ignore[union-attr]
    authority_end = _trim_host(text, start, i)
    if authority_end < i:
        return _trim_trailing(text, start, authority_end)
    if i < n and text[i] in "/?#":
        # Paths and queries are taken as ASCII only: browsers copy them percent-encoded,
        # and stopping at non-ASCII keeps unspaced running text (e.g. CJK) out of the URL,
        # so redaction still sees it.
        i = _ASCII_URL_RUN_RE.match(text, i).end()  # type: ignore[union-attr]
    return _trim_trailing(text, start, i)


def _trim_host(text: str, start: int, end: int) -> int:
    """Cut a host that ran into the following words: a top-level domain is never mixed
    ASCII/non-ASCII nor letters followed by digits, so "example.com电话0201234567" ends at "com"."""
    authority = text[start:end]
    host_start = start + authority.rfind("@") + 1
    host = text[host_start:end]
    if host.startswith("["):
        close = host.find("]")
        return end if close >= 0 else host_start
    host_end = host_start + (host.find(":") if ":" in host else len(host))
    dot = text.rfind(".", host_start, host_end)
    label_start = dot + 1 if dot >= 0 else host_start
    label = text[label_start:host_end]
    if not label:
        return end
    m = _TLD_PREFIX_RE.match(label)
    if m is None:
        return label_start
    if m.end() < len(label):
        return label_start + m.end()
    if host_end < end:  # a port: digits only
        p = host_end + 1
        while p < end and text[p].isascii() and text[p].isdigit():
            p += 1
        return p
    return end


def _trim_trailing(text: str, start: int, end: int) -> int:
    while end > start:
        ch = text[end - 1]
        if ch in _TRAILING:
            end -= 1
        elif ch in _CLOSERS:
            body = text[start:end]
            if body.count(ch) > body.count(_CLOSERS[ch]):
                end -= 1
            else:
                break
        else:
            break
    return end if end > start else start
