"""Reported URLs: validation, the de-duplication form, defanging; hosts.py checks the host,
finder.py finds URLs in running text, errors.py words the refusals.

Parsing follows what a browser does with a pasted address (WHATWG URL rules for
http/https) closely enough that the normalized form is the page the reporter saw,
and strictly enough that nothing an analyst could not visit (a private address, a
non-web scheme) gets into the queue. frontdoor itself never fetches a reported URL; a
tool that ever did would still have to check the address a hostname resolves to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from .errors import MAX_URL_LENGTH, UrlError
from .finder import URL_START_RE, find_urls, url_start
from .hosts import normalize_host, split_host_port

__all__ = [
    "MAX_URL_LENGTH",
    "URL_START_RE",
    "ReportedUrl",
    "UrlError",
    "defang",
    "find_urls",
    "normalize",
    "parse",
    "url_start",
]


@dataclass(frozen=True)
class ReportedUrl:
    original: str
    normalized: str
    host: str

    @property
    def defanged(self) -> str:
        return defang(self.normalized)


def normalize(raw: str) -> str:
    return parse(raw).normalized


# --- parsing -------------------------------------------------------------------------

_WRAPPERS: Final = (("<", ">"), ('"', '"'), ("'", "'"), ("\u201c", "\u201d"), ("\u2018", "\u2019"), ("`", "`"))
_SCHEME_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
# A browser drops tabs and newlines anywhere in a URL; pasted URLs often wrap across lines.
_TAB_NEWLINE_RE: Final = re.compile(r"[\t\n\r]")
_AUTHORITY_END_RE: Final = re.compile(r"[/\\?#]")
# "example.com:8080/x" looks like scheme "example.com"; these are hosts with a port, not schemes.
_PORT_AFTER_COLON_RE: Final = re.compile(r"\d+(?:[/?#]|$)")
_KNOWN_SCHEMES: Final = frozenset(
    {"ftp", "ftps", "sftp", "file", "data", "javascript", "vbscript", "mailto", "tel", "sms", "about",
     "blob", "ws", "wss", "irc", "ircs", "magnet", "gopher", "news", "nntp", "ssh", "telnet", "chrome",
     "view-source", "intent", "market", "tg", "whatsapp", "skype", "bitcoin", "ipfs", "ipns"}
)
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}

_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SUB_DELIMS: Final = "!$&'()*+,;="
_PATH_SAFE: Final = frozenset(_UNRESERVED | set(_SUB_DELIMS) | set(":@/"))
_QUERY_SAFE: Final = frozenset(_PATH_SAFE | set("?"))
_HEXDIGITS: Final = frozenset("0123456789abcdefABCDEF")

_TRACKING_PARAMS: Final = frozenset(
    {"fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid",
     "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "rb_clickid",
     "s_cid", "twclid", "ttclid", "si"}
)


def _unwrap(raw: str) -> str:
    text = raw.strip()
    while len(text) >= 2 and any(text[0] == a and text[-1] == b for a, b in _WRAPPERS):
        text = text[1:-1].strip()
    return text


@lru_cache(maxsize=4096)
def parse(raw: str) -> ReportedUrl:
    """The link as a ReportedUrl, or UrlError. Remembered for the last few thousand links (the result
    is immutable): a channel checks a link when it arrives and build_report parses it again, and IDNA
    and the host checks are a good part of either's time."""
    text = _unwrap(raw)
    if not text:
        raise UrlError("empty")
    if len(text) > MAX_URL_LENGTH:
        raise UrlError("too_long")
    clean = _TAB_NEWLINE_RE.sub("", text)

    m = _SCHEME_RE.match(clean)
    if m is None:
        raise UrlError("no_scheme")
    scheme = m.group(1).lower()
    rest = clean[m.end():]
    if scheme not in _DEFAULT_PORTS:
        if scheme not in _KNOWN_SCHEMES and ("." in scheme or _PORT_AFTER_COLON_RE.match(rest)):
            raise UrlError("no_scheme")
        raise UrlError("bad_scheme")

    # Like a browser, accept any number of slashes (or backslashes) after "http:".
    rest = rest.lstrip("/\\")
    end = _AUTHORITY_END_RE.search(rest)
    authority, tail = (rest[: end.start()], rest[end.start():]) if end else (rest, "")
    hostport = authority.rpartition("@")[2]  # credentials are dropped, never kept

    host, port = split_host_port(hostport)
    host = normalize_host(host)
    port_part = "" if port is None or port == _DEFAULT_PORTS[scheme] else f":{port}"

    tail = tail.partition("#")[0]
    path, has_query, query = tail.partition("?")
    path = _remove_dot_segments(_normalize_component(path.replace("\\", "/"), _PATH_SAFE)) or "/"
    query = _strip_tracking(_normalize_component(query, _QUERY_SAFE)) if has_query else ""

    normalized = f"{scheme}://{host}{port_part}{path}" + (f"?{query}" if query else "")
    if len(normalized) > MAX_URL_LENGTH:  # percent-encoding can grow a URL past the limit
        raise UrlError("too_long")
    return ReportedUrl(original=_strip_credentials(text), normalized=normalized, host=host)


_SCHEME_SLASHES_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[/\\\t\n\r]*")


def _strip_credentials(text: str) -> str:
    m = _SCHEME_SLASHES_RE.match(text)
    start = m.end() if m else 0
    end = _AUTHORITY_END_RE.search(text, start)
    stop = end.start() if end else len(text)
    at = text.rfind("@", start, stop)
    return text if at < 0 else text[:start] + text[at + 1:]


@lru_cache(maxsize=None)
def _safe_characters(safe: frozenset[str]) -> str:
    return "".join(sorted(safe - {"%"}))


def _normalize_component(text: str, safe: frozenset[str]) -> str:
    if not text.strip(_safe_characters(safe)):  # all of it safe, no escapes: nothing would change (C speed)
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "%":
            if i + 2 < n and text[i + 1] in _HEXDIGITS and text[i + 2] in _HEXDIGITS:
                decoded = chr(int(text[i + 1: i + 3], 16))
                out.append(decoded if decoded in _UNRESERVED else "%" + text[i + 1: i + 3].upper())
                i += 3
                continue
            out.append("%25")  # a stray "%" is data, not an escape
        elif ch in safe:
            out.append(ch)
        else:
            data = ("\ufffd" if _is_surrogate(ch) else ch).encode("utf-8")
            out.extend(f"%{b:02X}" for b in data)
        i += 1
    return "".join(out)


def _is_surrogate(ch: str) -> bool:
    return "\ud800" <= ch <= "\udfff"


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4."""
    output: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == ".":
            if last:
                output.append("")
        elif seg == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(seg)
    result = "/".join(output)
    if path.startswith("/") and not result.startswith("/"):
        result = "/" + result
    return result


def _strip_tracking(query: str) -> str:
    kept = []
    for param in query.split("&"):
        if not param:
            continue
        # Escapes are already normalized (unreserved ones decoded), so "%75tm_source" is caught.
        name = param.partition("=")[0].lower()
        if name.startswith("utm_") or name in _TRACKING_PARAMS:
            continue
        kept.append(param)
    return "&".join(kept)


# --- defanging -----------------------------------------------------------------------

_DEFANG_SCHEME_RE: Final = re.compile(r"(\s*)([A-Za-z][A-Za-z0-9+.\-]*)(:(?://|\\\\)?)")
_BARE_DOT_RE: Final = re.compile(r"(?<!\[)\.(?!\])")


def defang(url: str) -> str:
    m = _DEFANG_SCHEME_RE.match(url)
    if m and m.group(2).lower() in {"http", "https", "hxxp", "hxxps"}:
        scheme = m.group(2)
        scheme = scheme[0] + ("XX" if scheme[1:3].isupper() else "xx") + scheme[3:]
        prefix, start = m.group(1) + scheme + m.group(3), m.end()
    elif m and m.group(3).endswith(("//", "\\\\")):
        prefix, start = m.group(0), m.end()
    elif m and not _PORT_AFTER_COLON_RE.match(url, m.end()):
        return url  # mailto:, javascript: and the like carry no host to defang
    else:
        prefix, start = "", 0
    end = _AUTHORITY_END_RE.search(url, start)
    stop = end.start() if end else len(url)
    authority = url[start:stop]
    userinfo, at, host = authority.rpartition("@")
    return prefix + userinfo + at + _BARE_DOT_RE.sub("[.]", host) + url[stop:]
