"""The stdlib's reading of an e-mail's MIME structure, bounded, and the text a reporter wrote in it.

The parse is `email.parser.BytesParser` with `CappedHeaderPolicy` (limits.py), through public
APIs only, so that a Python upgrade cannot silently change what a private attribute means. Why
the reading looks the way it does:

- The parser recurses (nested generators) into every multipart and message/* part it meets, so
  a message nested 3000 deep would exhaust the stack. `Part` knows its depth and, past
  MAX_DEPTH, says it is application/octet-stream: the parser then keeps the rest of that subtree
  as one opaque body.
- A single-part body is not fed through the parser at all: the parser splits it into lines only
  to join them again (a third of its time on a plain e-mail). The header block is parsed alone
  and the body set as the payload, whenever the parser would have done the same (`read_message`;
  a test holds it to the parser's reading of the whole message).
- Attachments are counted from their headers only; their bodies are never decoded. Text parts
  are decoded by `decode.py` (distrusted charsets and transfer encodings, never raising), HTML
  read by `html.py`'s linear tokenizer, at most MAX_PARTS parts and MAX_BODY_CHARS of text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import Any, Final

from . import decode as maildecode, html as mailhtml
from .clean import clean
from .limits import MAX_BODY_CHARS, MAX_DEPTH, MAX_PART_CHARS, MAX_PARTS, MAX_URL_CANDIDATES, CappedHeaderPolicy
from .links import counted_url_candidates

__all__ = ["POLICY", "Part", "Reading", "body_bytes", "content_charset", "read_message", "read_text"]

_READABLE: Final = ("text/plain", "text/html")
_OPAQUE: Final = "application/octet-stream"


class Part(EmailMessage):
    """A part that knows how deep it is: past MAX_DEPTH it claims to be opaque, so the parser
    reads the rest of that subtree as one body instead of recursing into it.

    The parser attaches each new part to its parent before reading the part's headers, so the
    depth is known by the time the parser asks the part for its content type.
    """

    mime_depth = 0

    def attach(self, payload: Any) -> None:
        if isinstance(payload, Part):
            payload.mime_depth = self.mime_depth + 1
        super().attach(payload)

    def get_content_type(self) -> str:
        if self.mime_depth > MAX_DEPTH:
            return _OPAQUE
        return super().get_content_type()


POLICY: Final = CappedHeaderPolicy(message_factory=Part)


def read_message(raw: bytes) -> Message:
    """What `BytesParser(policy=POLICY).parsebytes(raw)` reads, faster for a single-part body.

    The header block (up to the first empty line) is parsed alone. If the parser took all of it
    as headers (its payload is empty: no line in it began the body) and the type is not one it
    would parse the body of (multipart, message/*), the body is set as the payload, decoded as
    BytesParser decodes it. Otherwise the whole message is parsed.
    """
    end = raw.find(b"\r\n\r\n")  # the first empty line: refuse_unreadable allows no bare CR or LF before it
    if end > 0:
        head = raw[: end + 4]
        msg = BytesParser(policy=POLICY).parsebytes(head, headersonly=True)
        if msg.get_content_maintype() not in ("multipart", "message") and _nothing_left(msg, head.isascii()):
            msg.set_payload(raw[end + 4:].decode("ascii", "surrogateescape"))
            return msg
    return BytesParser(policy=POLICY).parsebytes(raw)


def _nothing_left(msg: Message, ascii_head: bool) -> bool:
    """Whether the parser read the whole header block as headers (its payload is empty).

    Asked without decoding anything: get_payload() decodes 8-bit bytes with the declared charset
    (the sender's choice: punycode is quadratic), and get_payload(decode=True) undoes a transfer
    encoding, after which a payload of "=" or "!" would look empty. An ASCII payload has no 8-bit
    bytes to decode; otherwise the undecoded bytes are asked for, which needs no
    Content-Transfer-Encoding to be there (else the whole message is parsed).
    """
    if ascii_head:
        return msg.get_payload() == ""
    return "content-transfer-encoding" not in msg and msg.get_payload(decode=True) == b""


@dataclass
class Reading:
    """What reading a message's parts found and dropped so far."""

    content_type: str = ""  # of the message itself (its first part)
    parts: int = 0
    dropped: int = 0  # attachments and parts with no text a reporter wrote
    chars: int = 0
    candidates: list[str] = field(default_factory=list)
    # What the caps left out (limits.Omitted): parts not read, parts nested too deep to open,
    # characters of text read but cut, URL starts not looked at.
    unread_parts: int = 0
    too_deep: int = 0
    cut_chars: int = 0
    links_not_examined: int = 0


def read_text(part: Message, reading: Reading) -> str:
    """The readable text of a part and what it holds; counts what it drops.

    Recursion is bounded: the parser made no part deeper than MAX_DEPTH + 1.
    """
    reading.parts += 1
    if reading.parts > MAX_PARTS:
        reading.unread_parts += sum(1 for p in part.walk() if not p.is_multipart())
        return ""
    if isinstance(part, Part) and part.mime_depth > MAX_DEPTH:
        reading.too_deep += 1  # the parser kept it as one opaque body: what it holds is not read
        return ""
    try:
        ctype = part.get_content_type()
        if reading.parts == 1:
            reading.content_type = ctype
        params = part.get_params([], header="content-type")  # parsed once: the charset is among them
        attachment = _is_attachment(part, ctype, params)
    except Exception:  # a header the stdlib cannot read: the part stays unopened
        reading.dropped += 1
        return ""
    if part.is_multipart() and not (attachment and ctype.startswith("message/")):
        if ctype.startswith("message/") and ctype not in ("message/rfc822", "message/global"):
            reading.dropped += 1  # delivery-status and the like: no text a reporter wrote
            return ""
        texts = [(child, read_text(child, reading)) for child in part.get_payload() if isinstance(child, Message)]
        if ctype == "multipart/alternative":
            return _best_alternative(texts)
        return "\n\n".join(t for _, t in texts if t.strip())
    if attachment or ctype not in _READABLE or part.is_multipart():
        reading.dropped += 1
        return ""
    if reading.chars >= MAX_BODY_CHARS:
        reading.unread_parts += 1  # text, but the text read is at its cap already
        return ""
    data, cut = body_bytes(part)
    text = maildecode.decode_bytes(data, content_charset(part, params), cut=cut)
    if ctype == "text/html":
        text, hrefs = mailhtml.html_to_text(text, MAX_BODY_CHARS - reading.chars)
        reading.candidates += hrefs
    text = clean(text)
    room = MAX_BODY_CHARS - reading.chars
    if len(text) > room:  # what is cut is counted: its characters, and the links in it (a regex's count)
        reading.cut_chars += len(text) - room
        reading.links_not_examined += counted_url_candidates(text[room:], 0)[1]
        text = text[:room]
    reading.chars += len(text)
    found, not_examined = counted_url_candidates(text, MAX_URL_CANDIDATES - len(reading.candidates))
    reading.candidates += found
    reading.links_not_examined += not_examined
    return text


def body_bytes(part: Message) -> tuple[bytes, bool]:
    """A text part's body, transfer-decoded by `decode.py`, from at most MAX_PART_CHARS of it;
    and whether the encoded body was longer (so a character broken at the end is not garbled).

    `get_payload(decode=True)` is the public way to the bytes the parser read, but it would also
    undo the transfer encoding by the stdlib's rules, which hand back a broken base64 body as its
    encoded text and decode uuencode. The Content-Transfer-Encoding header is read first and
    removed from the part (only this package ever reads it again), so the stdlib returns the
    bytes as they are and the decoding is `decode.py`'s.
    """
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    del part["content-transfer-encoding"]  # a no-op when there is none
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes):
        return b"", False
    data = raw[:MAX_PART_CHARS]  # the parser keeps one character per byte
    return maildecode.transfer_decode(data, cte), len(raw) > MAX_PART_CHARS


def _best_alternative(texts: list[tuple[Message, str]]) -> str:
    # Plain text is what the sender typed; HTML is the fallback (RFC 2046 orders by richness).
    for child, text in texts:
        if text.strip() and child.get_content_type() == "text/plain":
            return text
    return next((t for _, t in texts if t.strip()), "")


def _is_attachment(part: Message, ctype: str, params: list[tuple[str, Any]]) -> bool:
    """`params`: the Content-Type parameters, as `part.get_params([])` reads them."""
    if (part.get_content_disposition() or "").lower() == "attachment":
        return True
    # A file named in either header's parameters (the first "parameter" is the value itself).
    names = {k.lower() for k, _ in part.get_params([], header="content-disposition")[1:]}
    names |= {k.lower() for k, _ in params[1:]}
    return bool(names & {"filename", "filename*", "name", "name*"}) and not ctype.startswith("multipart/")


def content_charset(part: Message, params: list[tuple[str, Any]] | None = None) -> str | None:
    """`part.get_content_charset()`, or None where the stdlib cannot read the parameter.

    `params`, the part's `get_params([])` if already read, spares parsing them again (a third of
    the time of reading a plain part's headers) for a charset given as plain text; the stdlib's
    answer for one is its value, lower-cased, if ASCII. An RFC 2231 charset is the stdlib's to read.
    """
    if params is not None:
        charset = next((v for k, v in params if k.lower() == "charset"), None)
        if not isinstance(charset, tuple):
            return charset.lower() if charset is not None and charset.isascii() else None
    try:
        return part.get_content_charset()
    except Exception:  # a mangled RFC 2231 charset parameter: decide from the bytes
        return None
