"""Bytes of an e-mail to text: declared charsets (distrusted), transfer encodings and RFC 2047
encoded words, without ever raising and in time linear in the input.
"""

from __future__ import annotations

import binascii
import codecs
import re
from typing import Final

__all__ = ["b64decode", "decode_bytes", "decode_encoded_words", "raw_bytes", "transfer_decode"]

_ENCODED_WORD_RE: Final = re.compile(r"=\?([^?\s]{1,64})\?([bBqQ])\?([^?\s]*+)\?=")


def decode_encoded_words(text: str) -> str:
    """RFC 2047; adjacent words are joined before decoding (senders split characters across them)."""
    out: list[str] = []
    run: list[bytes] = []
    run_charset: str | None = None
    pos = 0
    for m in _ENCODED_WORD_RE.finditer(text):
        between = text[pos: m.start()]
        charset = m.group(1).split("*", 1)[0].lower()
        if run and (between.strip() or charset != run_charset):
            out.append(decode_bytes(b"".join(run), run_charset))
            run = []
        if not run and between:
            out.append(between)
        data = m.group(3).encode("utf-8", "replace")
        run.append(b64decode(data) if m.group(2) in "bB" else binascii.a2b_qp(data, header=True))
        run_charset = charset
        pos = m.end()
    if run:
        out.append(decode_bytes(b"".join(run), run_charset))
    out.append(text[pos:])
    return "".join(out)


_CHARSET_NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+\-]{0,39}")
# Text codecs no mail is written in: punycode (and so idna) decodes in quadratic time, and
# the escape codecs would turn "\u202e" typed as text into the character.
_REFUSED_CODECS: Final = frozenset({"punycode", "idna", "undefined", "unicode-escape", "raw-unicode-escape"})
_WESTERN_8BIT: Final = frozenset({"ascii", "iso8859-1", "iso8859-15", "cp1252", "latin-1"})


def _codec(charset: str | None) -> str | None:
    if not charset or not _CHARSET_NAME_RE.fullmatch(charset):
        return None
    try:
        name = codecs.lookup(charset).name
    except LookupError:
        return None
    return None if name.replace("_", "-") in _REFUSED_CODECS else name


def decode_bytes(data: bytes, charset: str | None, *, cut: bool = False) -> str:
    """Declared charset, else UTF-8, else Windows-1252/Latin-1: never raises.

    UTF-8 is tried first when a Western 8-bit charset is declared for non-ASCII bytes: mail
    mislabelled that way is common, and cp1252 text is almost never valid UTF-8. `cut`: the
    bytes were cut short here, so a character broken at the very end is dropped, not a reason
    to fall back.
    """
    declared = _codec(charset)
    order = [declared, "utf-8"]
    if declared in _WESTERN_8BIT and not data.isascii():
        order = ["utf-8", declared]
    for name in [*order, "cp1252"]:
        if name is None:
            continue
        try:
            return data.decode(name)
        except UnicodeDecodeError as exc:
            if cut and exc.end == len(data) and exc.start >= len(data) - 4:
                try:
                    return data[: exc.start].decode(name)
                except (UnicodeError, LookupError):
                    continue
        except (UnicodeError, LookupError):  # LookupError: a codec that is not a text encoding
            continue
    return data.decode("latin-1")


def raw_bytes(text: str) -> bytes:
    """The bytes BytesParser read (it keeps 8-bit bytes as surrogate escapes)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no byte stands for; BytesParser makes none
        return text.encode("utf-8", "replace")


def b64decode(data: bytes) -> bytes:
    """Whatever base64 there is: invalid characters and padding ignored, a stray last one dropped."""
    clean = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
    rest = len(clean) % 4
    clean = clean[:-1] if rest == 1 else clean + b"=" * ((4 - rest) % 4)
    return binascii.a2b_base64(clean)


def transfer_decode(data: bytes, encoding: str) -> bytes:
    """`data` with its Content-Transfer-Encoding (lower-cased) undone; any other encoding is the bytes as they are."""
    if encoding == "base64":
        return b64decode(data)
    if encoding == "quoted-printable":
        return binascii.a2b_qp(data)
    return data
