"""The host of a reported URL: IDNA, WHATWG's IPv4 forms, and the refusal of anything an analyst
could not visit (private, loopback, link-local, reserved addresses; "localhost"; a malformed onion).

Cached apart from whole links: a host recurs far more often than a link (every page of a site is
reported), and IDNA mapping is most of a new link's cost.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from typing import Final

import idna

from .errors import UrlError

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

_HEXDIGITS: Final = frozenset("0123456789abcdefABCDEF")


def split_host_port(hostport: str) -> tuple[str, int | None]:
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
def normalize_host(host: str) -> str:
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
