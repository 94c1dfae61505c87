"""Text made safe to store and to show an analyst, whatever bytes the sender chose.

Everything read from an e-mail ends up in Redis (whose writes encode UTF-8, so a lone surrogate
left by a surrogate-escaped byte would fail there) and on an analyst's screen (where a control
character or a bidi override can make text look other than it is stored). The functions here
are on the path of every message, hence the ASCII short cuts, each held to the plain
definition by a property test.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["SURROGATE_RE", "clean", "clean_line", "cut", "tidy"]

# Surrogate-escaped bytes, as BytesParser leaves 8-bit bytes in a str.
SURROGATE_RE: Final = re.compile("[\ud800-\udfff]")
# Controls (tab and newline kept), and the bidi overrides that can make an analyst's screen
# show text in another order than it is stored.
UNSAFE_RE: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")
NEWLINE_RE: Final = re.compile("\r\n|[\r\u2028\u2029\x85]")

# The same characters within ASCII, for bytes.translate: a regular expression's character class
# tests each character in Python's regex engine, about ten times slower on an ordinary e-mail.
_ASCII_UNSAFE: Final = bytes([*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F])
_BLANK_LINES_RE: Final = re.compile(r"\n{3,}")


def clean(text: str) -> str:
    """Safe to store: no lone surrogates (Redis writes encode UTF-8), no control characters."""
    if not text.isascii():
        return UNSAFE_RE.sub("", NEWLINE_RE.sub("\n", SURROGATE_RE.sub("\ufffd", text)))
    if "\r" in text:  # the same as NEWLINE_RE, whose other line ends are not ASCII
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    data = text.encode("ascii")
    kept = data.translate(None, _ASCII_UNSAFE)
    return text if len(kept) == len(data) else kept.decode("ascii")


def clean_line(text: str) -> str:
    """For a header: one line, whatever folds and controls it came with."""
    return " ".join(clean(text).split())  # runs of whitespace made one space, as re.sub(r"\s+", " ", ...).strip()


def tidy(text: str) -> str:
    """Body text as an analyst reads it: no trailing blanks, at most one empty line in a row."""
    if " \n" in text or "\t\n" in text:
        text = "\n".join(line.rstrip(" \t") for line in text.split("\n"))
    return _BLANK_LINES_RE.sub("\n\n", text).strip() if "\n\n\n" in text else text.strip()


def cut(text: str, max_chars: int) -> str:
    """At most `max_chars`, with an ellipsis showing that something was left out."""
    if len(text) <= max_chars:
        return text
    return text[: max(max_chars - 1, 0)].rstrip() + "…"
