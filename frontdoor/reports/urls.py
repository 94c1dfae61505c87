"""Reported URLs: validation, the de-duplication form, defanging and finding URLs in text.

Parsing follows what a browser does with a pasted address (WHATWG URL rules for
http/https) closely enough that the normalized form is the page the reporter saw,
and strictly enough that nothing an analyst could not visit (a private address, a
non-web scheme) gets into the queue. frontdoor itself never fetches a reported URL; a
tool that ever did would still have to check the address a hostname resolves to.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import idna

__all__ = [
    "MAX_URL_LENGTH",
    "ReportedUrl",
    "UrlError",
    "defang",
    "find_urls",
    "normalize",
    "parse",
]

MAX_URL_LENGTH: Final = 2048

_EXAMPLE: Final = "for example https://www.example.com/page"

_MESSAGES: Final[dict[str, str]] = {
    "empty": f"Please enter the web address of the page, {_EXAMPLE}.",
    "too_long": (
        f"That web address is longer than {MAX_URL_LENGTH} characters, which is more than we can accept. "
        f"Please check it was copied from the address bar only, {_EXAMPLE}."
    ),
    "no_scheme": f"A web address starts with http:// or https://, {_EXAMPLE}.",
    "bad_scheme": f"We can only accept web addresses that start with http:// or https://, {_EXAMPLE}.",
    "no_host": f"The web address is missing the name of the site after https://, {_EXAMPLE}.",
    "bad_host": f"The name of the site in that web address is not valid. Please check it, {_EXAMPLE}.",
    "bad_port": (
        "The number after the colon in the site name (the port) must be between 1 and 65535, "
        "for example https://www.example.com:8080/page."
    ),
    "bad_onion": (
        "A Tor address has exactly 56 letters and digits before .onion. "
        "Please check it was copied in full, for example http://<56 letters and digits>.onion/page."
    ),
    "private_address": (
        "That address points inside a private network, so we could not visit it. "
        f"Please give the public web address of the page, {_EXAMPLE}."
    ),
}


class UrlError(ValueError):
    """A reported URL we cannot accept; `reason` is a stable code, `message` a sentence a member of the public understands (with an example of what works)."""

    reason: str
    message: str

    def __init__(self, reason: str, message: str | None = None) -> None:
        # Never include the reported text: it may hold credentials or be abuse material itself.
        self.reason = reason
        self.message = message if message is not None else _MESSAGES.get(reason, _MESSAGES["bad_host"])
        super().__init__(reason, self.message)

    def __str__(self) -> str:
        return self.message


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

_ASCII_LABEL_RE: Final = re.compile(r"[a-z0-9_\-]{1,63}")
_ONION_LABEL_RE: Final = re.compile(r"[a-z2-7]{56}")
_HEX_RE: Final = re.compile(r"[0-9a-fA-F]*")

# Documentation ranges (RFC 5737) are deliberately ALLOWED even though Python calls them
# private: tests and examples need public-looking literals that are nobody's server, and
# nothing routes to them anyway. 3fff::/20 (RFC 9637) is the IPv6 counterpart and is allowed
# for the same reason (and so behaviour does not change when ipaddress learns about it).
# The older IPv6 documentation prefix 2001:db8::/32 is treated as reserved and rejected.
_ALLOWED_NETWORKS: Final = (
    ipaddress.ip_network("192.0.2.0/24"),
    ipaddress.ip_network("198.51.100.0/24"),
    ipaddress.ip_network("203.0.113.0/24"),
    ipaddress.ip_network("3fff::/20"),
)
_REJECTED_NETWORKS: Final = (
    ipaddress.ip_network("2001:db8::/32"),
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT
)
_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")

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

    host, port = _split_host_port(hostport)
    host = _normalize_host(host)
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


def _split_host_port(hostport: str) -> tuple[str, int | None]:
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            raise UrlError("bad_host")
        host, after = hostport[: close + 1], hostport[close + 1:]
        if after and not after.startswith(":"):
            raise UrlError("bad_host")
        port_text = after[1:] if after else ""
    else:
        if hostport.count(":") > 1:  # an IPv6 address without brackets
            raise UrlError("bad_host")
        host, _, port_text = hostport.partition(":")
    if not host:
        raise UrlError("no_host")
    if not port_text:
        return host, None
    if not (port_text.isascii() and port_text.isdigit()):
        raise UrlError("bad_port")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise UrlError("bad_port")
    return host, port


@lru_cache(maxsize=4096)
def _normalize_host(host: str) -> str:
    """Remembered apart from whole links: a host recurs far more often than a link (every page of a
    site reported), and IDNA mapping is most of a new link's cost."""
    if host.startswith("["):
        if "%" in host:  # zone ids ("fe80::1%eth0") only mean something on the host itself
            raise UrlError("bad_host")
        try:
            ip6 = ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise UrlError("bad_host") from None
        _check_public(ip6)
        return f"[{ip6.compressed}]"

    try:
        decoded = _percent_decode_host(host)
        mapped = idna.uts46_remap(decoded, std3_rules=False, transitional=False)
    except (UnicodeError, ValueError):
        raise UrlError("bad_host") from None
    if mapped.endswith("."):
        mapped = mapped[:-1]
    labels = mapped.split(".")
    if not mapped or "" in labels:
        raise UrlError("bad_host")

    if _is_numeric_label(labels[-1]):
        ip4 = _parse_ipv4(labels)
        _check_public(ip4)
        return str(ip4)

    ascii_labels = [_ascii_label(label) for label in labels]
    name = ".".join(ascii_labels)
    if len(name) > 253:
        raise UrlError("bad_host")
    if ascii_labels[-1] == "localhost":
        raise UrlError("private_address")
    tld = ascii_labels[-1]
    if len(ascii_labels) < 2 or not (tld.isalpha() or tld.startswith("xn--")):
        raise UrlError("bad_host")
    if tld == "onion" and not _ONION_LABEL_RE.fullmatch(ascii_labels[-2]):
        raise UrlError("bad_onion")
    return name


def _percent_decode_host(host: str) -> str:
    if "%" not in host:
        return host
    out = bytearray()
    i = 0
    while i < len(host):
        if host[i] == "%" and i + 2 < len(host) and host[i + 1] in _HEXDIGITS and host[i + 2] in _HEXDIGITS:
            out.append(int(host[i + 1: i + 3], 16))
            i += 3
        else:
            out += host[i].encode("utf-8")
            i += 1
    return out.decode("utf-8")


def _ascii_label(label: str) -> str:
    if not label.isascii():
        try:
            return idna.encode(label, uts46=True).decode("ascii")
        except (UnicodeError, ValueError):
            raise UrlError("bad_host") from None
    if not _ASCII_LABEL_RE.fullmatch(label):
        # Underscores are not valid IDNA but do occur in real hostnames, so they are allowed.
        raise UrlError("bad_host")
    if label.startswith("xn--"):
        try:
            return idna.encode(idna.decode(label)).decode("ascii")
        except (UnicodeError, ValueError):
            raise UrlError("bad_host") from None
    return label


def _is_numeric_label(label: str) -> bool:
    # WHATWG: a host whose last label is a number is an IPv4 address (so "127.1" and
    # "0x7f.0.0.1" are loopback, as a browser would treat them).
    if label.isascii() and label.isdigit():
        return True
    return label[:2].lower() == "0x" and bool(_HEX_RE.fullmatch(label[2:]))


def _parse_ipv4(labels: list[str]) -> ipaddress.IPv4Address:
    if len(labels) > 4:
        raise UrlError("bad_host")
    numbers: list[int] = []
    for part in labels:
        try:
            if part[:2].lower() == "0x":
                numbers.append(int(part[2:] or "0", 16))
            elif len(part) > 1 and part.startswith("0"):
                numbers.append(int(part, 8))
            elif part.isascii() and part.isdigit():
                numbers.append(int(part))
            else:
                raise ValueError(part)
        except ValueError:
            raise UrlError("bad_host") from None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise UrlError("bad_host")
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def _check_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return _check_public(ip.ipv4_mapped)
        if ip in _NAT64:
            return _check_public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if any(ip in net for net in _ALLOWED_NETWORKS):
        return None
    if (
        any(ip in net for net in _REJECTED_NETWORKS)
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_unspecified
        or ip.is_multicast
        or ip.is_reserved
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
        or not ip.is_global
    ):
        raise UrlError("private_address")
    return None


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


# --- finding URLs in text ------------------------------------------------------------

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
