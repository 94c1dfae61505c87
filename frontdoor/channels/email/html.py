"""HTML mail as text: the visible words, each link's target after its label, and the targets.

Written for untrusted input on the SMTP server's event loop: a small tokenizer that is linear
by construction (`html.parser` on Python 3.11 is quadratic on inputs such as repeated "<!--").
Script, style and similar contents are dropped; images are ignored; nothing is fetched.
"""

from __future__ import annotations

import html as htmllib
import re
from typing import Final

__all__ = ["html_to_text"]

_BLOCK_TAGS: Final = frozenset(
    "address article aside blockquote br center dd div dl dt fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody thead tfoot tr ul".split()
)
_SKIPPED: Final = {name: re.compile(rf"</{name}[\s/>]", re.IGNORECASE)
                   for name in ("script", "style", "title", "template", "noembed", "noframes", "xmp", "iframe", "svg")}
_TAG_NAME_RE: Final = re.compile(r"<(/?)([A-Za-z][^\s/>\x00]*+)")
_GT_OR_EQ_RE: Final = re.compile(r"[>=]")
_SPACES_RE: Final = re.compile(r"[ \t\n\r\f]*+")
_HREF_RE: Final = re.compile(r"""[\s/"']href[ \t\n\r\f]*+=[ \t\n\r\f]*+(?:"([^"]*+)"|'([^']*+)'|([^\s>]++))""", re.IGNORECASE)
_HTML_SPACE_RE: Final = re.compile(r"[ \t\n\r\f]+")


def html_to_text(markup: str, limit: int) -> tuple[str, list[str]]:
    """Visible text with link targets after their label, and the http(s) link targets.

    Linear by construction: every search starts where the previous one ended. Script, style
    and similar contents are dropped; images are ignored; nothing is fetched.
    """
    out: list[str] = []
    hrefs: list[str] = []
    link: tuple[str, int] | None = None  # the open <a>'s target, and where its label starts in out
    size = pre = i = 0
    n = len(markup)
    while i < n and size < limit:
        lt = markup.find("<", i)
        lt = n if lt < 0 else lt
        if lt > i:
            chunk = htmllib.unescape(markup[i:lt])
            chunk = chunk if pre else _HTML_SPACE_RE.sub(" ", chunk)
            out.append(chunk)
            size += len(chunk)
        if lt >= n:
            break
        if markup.startswith("<!--", lt):
            end = markup.find("-->", lt + 4)
            i = n if end < 0 else end + 3
            continue
        m = _TAG_NAME_RE.match(markup, lt)
        if m is None:
            if markup.startswith(("<!", "<?", "</"), lt):  # doctype, CDATA, bogus comment
                end = markup.find(">", lt + 2)
                i = n if end < 0 else end + 1
            else:
                out.append("<")
                size += 1
                i = lt + 1
            continue
        end = _tag_end(markup, m.end())
        if end < 0:
            break  # the input ends inside a tag: a browser shows nothing after it either
        closing, name = m.group(1) == "/", m.group(2).lower()
        i = end + 1
        if name in ("a", "area"):
            if link is not None:
                size += _close_link(out, link)
                link = None
            href = None if closing else _href(markup[lt: end + 1])
            if href is not None:
                hrefs.append(href)
                link = (href, len(out))
                if name == "area":
                    size += _close_link(out, link)
                    link = None
        elif name in ("td", "th") and not closing:
            out.append(" ")
        elif name in _BLOCK_TAGS:
            if not (closing and name in ("li", "tr")):  # a row or an item: one line, not a paragraph
                out.append("\n- " if name == "li" else "\n")
            pre = max(pre + (-1 if closing else 1), 0) if name == "pre" else pre
        elif name in _SKIPPED and not closing:
            close = _SKIPPED[name].search(markup, i)
            i = n if close is None else close.start()
    if link is not None:
        _close_link(out, link)
    text = re.sub(r"[ \t]*\n[ \t]*", "\n", "".join(out))
    return (text if pre else re.sub(" {2,}", " ", text)), hrefs


def _tag_end(markup: str, pos: int) -> int:
    """Where the tag whose name ends at `pos` closes (its ">"), quoted values skipped; -1 if never."""
    n = len(markup)
    while True:
        m = _GT_OR_EQ_RE.search(markup, pos)
        if m is None:
            return -1
        if markup[m.start()] == ">":
            return m.start()
        pos = _SPACES_RE.match(markup, m.end()).end()  # type: ignore[union-attr]  # matches empty
        if pos < n and markup[pos] in "\"'":
            close = markup.find(markup[pos], pos + 1)
            if close < 0:
                return -1
            pos = close + 1


def _href(tag: str) -> str | None:
    m = _HREF_RE.search(tag)
    if m is None:
        return None
    value = htmllib.unescape(next(g for g in m.groups() if g is not None))
    value = re.sub(r"[\t\n\r]", "", value).strip()
    return value if re.match(r"https?://", value, re.IGNORECASE) else None


def _close_link(out: list[str], link: tuple[str, int]) -> int:
    """Put the link's target after its label unless the label shows it; returns what was added."""
    href, start = link
    label = "".join(out[start:]).strip()
    shown = href.replace(" ", "%20")
    bare = href.split("://", 1)[-1].rstrip("/")
    if not label:
        out.append(f" {shown} ")
    elif href.rstrip("/") not in label and bare not in label:
        out.append(f" ({shown})")
    else:
        return 0
    return len(out[-1])
