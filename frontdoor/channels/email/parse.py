"""E-mail in, report fields out: reading an untrusted message without trusting any of it.

The e-mail channel (`frontdoor.channels.email.server`) hands every message to `parse_mail` as
aiosmtpd received it (`envelope.original_content`: bytes, lines ending in CRLF, dot-unstuffed,
nothing added). Whatever those bytes are, the answer is a `ParsedMail` or a `MailRejected`
carrying the SMTP reply; nothing else escapes, and the work is linear in the message size.

Why it is built the way it is:
- Header lines holding a bare CR or LF are refused before parsing: aiosmtpd 1.4.6 passes
  them through, and Python's parser would read a header injected after one.
- The stdlib parser runs with `policy.default` settings but raw header strings (header
  objects cost ~1 ms a message and have crashed on hostile input), on a part class that stops
  the parser nesting deeper than MAX_DEPTH, so no recursion grows with the input. A
  single-part body is not fed through it at all, and an ordinary header block is split the
  way the parser would split it without its line machinery (see `_message`); a part's
  parameters are read once (`_params`). Property tests hold each short cut to the stdlib's
  own reading.
- Attachments are counted from their headers only; their bodies are never decoded.
- Text is decoded by `maildecode` (distrusted charsets, transfer encodings, RFC 2047) and HTML
  read by `mailhtml`'s linear tokenizer (`html.parser` on Python 3.11 is quadratic on inputs
  such as repeated "<!--", and a message must not be able to stall the event loop); the
  category and language are guessed by `mailtopic`.
- Neither ParsedMail nor anything made from it holds the sender's address: it is removed
  from the subject, the text and the URLs here, where the headers naming it are at hand.
"""

from __future__ import annotations

import binascii
import hashlib
import logging
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import EmailPolicy
from typing import Any, Final

from . import decode as maildecode, html as mailhtml, topic as mailtopic
from ...reports import urls
from ...errors import FrontdoorError
from ...reports.redaction import EMAIL_MARK

__all__ = ["EMPTY_DESCRIPTION", "MailRejected", "ParsedMail", "description", "parse_mail", "submission"]

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES: Final = 64 * 1024 * 1024  # the largest FRONTDOOR_SMTP_MAX_BYTES allows
MAX_DEPTH: Final = 20                # MIME nesting read; deeper parts are one opaque part
MAX_PARTS: Final = 200               # MIME parts read; leaves after these are counted as dropped
MAX_PART_CHARS: Final = 512 * 1024   # of a text part's encoded body; the rest is not decoded
MAX_BODY_CHARS: Final = 64 * 1024    # of body_text
MAX_SUBJECT_CHARS: Final = 300
MAX_URLS: Final = 20                 # the submission schema's limit
MAX_URL_CANDIDATES: Final = 500      # strings tried as URLs; a wall of links is not 500 reports' worth
MAX_ATTACHMENTS_FIELD: Final = 1000  # the submission schema's maximum for attachments_dropped
MAX_DESCRIPTION_CHARS: Final = 4000
EMPTY_DESCRIPTION: Final = "(e-mail with no text and no link)"
NAME_MARK: Final = "[name removed]"

# Header values as the parser may read them: Content-Type and Content-Disposition go through
# email.message._parseparam, which is quadratic in the number of ";" inside quotes.
_MAX_HEADER_CHARS: Final = 8 * 1024
_MAX_PARAM_HEADER_CHARS: Final = 1024
_MAX_PARAMS: Final = 16
_MAX_MESSAGE_ID_CHARS: Final = 250
# find_urls trims trailing ")" one at a time, recounting the URL each time: quadratic in a
# token's length, so each candidate is looked for in a window a little longer than a URL can be.
_URL_WINDOW_CHARS: Final = urls.MAX_URL_LENGTH + 64
_INTERNAL_REPLY: Final = "554 5.6.0 The message could not be read"


class MailRejected(FrontdoorError):
    """The message cannot become a report; the SMTP server answers with `reply`."""

    code = "mail_rejected"
    status = 400

    def __init__(self, smtp_code: int, reply: str) -> None:
        super().__init__(reply)
        self.smtp_code = smtp_code
        self.reply = reply


@dataclass(frozen=True)
class ParsedMail:
    """What the channel needs from one e-mail; nothing in it names the sender."""

    message_id: str | None
    subject: str
    body_text: str
    urls: tuple[str, ...]
    attachments_dropped: int
    locale: str
    category: str
    automated: bool
    reply_language_hint: str | None


def parse_mail(raw: bytes, *, envelope_from: str | None, own_hosts: frozenset[str] = frozenset()) -> ParsedMail:
    """`envelope_from` is the SMTP MAIL FROM ("<>" or "" for a bounce), None if unknown.

    Links to `own_hosts` (as `urls.parse` writes a host) are not reported: the hotline's own site
    and the resources its replies recommend come back quoted in replies to those replies.
    """
    raw = bytes(raw)
    if len(raw) > MAX_MESSAGE_BYTES:
        raise MailRejected(552, "552 5.3.4 Message too big")
    _check_header_lines(raw)
    try:
        return _parse(raw, envelope_from, own_hosts)
    except MemoryError:
        raise MailRejected(451, "451 4.3.0 Temporarily unable to read the message; please try again later") from None
    except Exception as exc:  # the stdlib parser on hostile input: never crash the server, answer instead
        log.warning("e-mail could not be parsed: %s", type(exc).__name__)
        raise MailRejected(554, _INTERNAL_REPLY) from None


def description(mail: ParsedMail, *, max_chars: int = MAX_DESCRIPTION_CHARS) -> str | None:
    """Subject and text for the report (not redacted here: build_report does that)."""
    parts = [f"Subject: {mail.subject}" if mail.subject else "", mail.body_text.strip()]
    text = "\n\n".join(p for p in parts if p)
    return _cut(text, max_chars) if text else None


def submission(mail: ParsedMail, *, country_hint: str | None = None,
               default_region: str | None = None) -> dict[str, Any]:
    """The fields for frontdoor.report.build_report; pass the `default_region` given to it too.

    `default_region` is accepted for callers that pass build_report's; build_report itself keeps
    the redacted description within the stored report's 4000 characters.

    An e-mail with no text and no link still becomes a report (EMPTY_DESCRIPTION): the
    attachments it carried are counted on it and the reporter gets the channel's reply, rather
    than a bounce most people would not read.
    """
    country = (country_hint or "").strip().upper()
    country_or_none = country if len(country) == 2 and country.isascii() and country.isalpha() else None
    text = description(mail)  # at most 4000 characters; build_report cuts again after its redaction
    if text is None and not mail.urls:
        text = EMPTY_DESCRIPTION
    return {
        "category": mail.category,
        "urls": list(mail.urls),
        "description": text,
        "locale": mail.locale,
        "attachments_dropped": min(mail.attachments_dropped, MAX_ATTACHMENTS_FIELD),
        "where_seen": None,
        "reporter_role": "unknown",
        "reporter_country": country_or_none,
        "child_in_immediate_danger": False,
    }


def _cut(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return text[: max(max_chars - 1, 0)].rstrip() + "…"


# --- the raw message -----------------------------------------------------------------

def _check_header_lines(raw: bytes) -> None:
    # aiosmtpd splits DATA on CRLF only, so every line it hands over ends in CRLF and a bare CR
    # or LF can only be inside a line. Python's parser ends a header line at either, which would
    # read a header a sending filter never saw. Such a line is refused, and so is a message
    # written with bare-LF line ends (SMTP requires CRLF; aiosmtpd would not end its DATA anyway).
    end = 0 if raw.startswith(b"\r\n") else raw.find(b"\r\n\r\n")
    head = raw if end < 0 else raw[: end + 2]
    crlf = head.count(b"\r\n")  # every CR must begin one of these and every LF end one
    if head.count(b"\r") != crlf or head.count(b"\n") != crlf:
        raise MailRejected(550, "550 5.6.0 Malformed header line (bare CR or LF); lines must end in CRLF")


class _RawHeaderPolicy(EmailPolicy):
    def header_fetch_parse(self, name: str, value: str) -> Any:
        if name.lower() in ("content-type", "content-disposition"):
            value = value[:_MAX_PARAM_HEADER_CHARS]
            if value.count(";") > _MAX_PARAMS:
                value = ";".join(value.split(";", _MAX_PARAMS + 1)[: _MAX_PARAMS + 1])
            return value
        return value[:_MAX_HEADER_CHARS]


class _Part(EmailMessage):
    """A part that knows its depth: past MAX_DEPTH it claims to be opaque, so the parser reads
    the rest of that subtree as one body instead of recursing into it.

    It also finds its headers by name in a dict: Message.get lower-cases every header's name on
    every call, and reading a part asks for its Content-Type and friends a dozen times. The dict is
    made again whenever the header list is replaced or changes length (set_raw, __setitem__,
    __delitem__) or replace_header rewrites one in place; so is the content type it remembers.
    """

    depth = 0
    _headers: list[tuple[str, Any]]  # Message's own, which typeshed does not declare
    _default_type: str
    _by_name: dict[str, tuple[str, str]] | None = None
    _by_name_of: tuple[int, int] = (0, -1)
    _content_type = ""
    _content_type_of: tuple[int, int, str] = (0, -1, "")

    def get(self, name: str, failobj: Any = None) -> Any:
        headers = self._headers
        of = (id(headers), len(headers))
        by_name = self._by_name
        if by_name is None or self._by_name_of != of:
            by_name = {}
            for k, v in headers:
                by_name.setdefault(k.lower(), (k, v))  # the first of a name, as Message.get finds it
            self._by_name, self._by_name_of = by_name, of
        found = by_name.get(name.lower())
        return failobj if found is None else self.policy.header_fetch_parse(*found)

    def replace_header(self, _name: str, _value: Any) -> None:
        self._by_name, self._content_type_of = None, (0, -1, "")  # the list keeps its id and length
        super().replace_header(_name, _value)

    def attach(self, payload: Any) -> None:
        if isinstance(payload, _Part):
            payload.depth = self.depth + 1
        super().attach(payload)

    def get_content_type(self) -> str:
        if self.depth > MAX_DEPTH:
            return "application/octet-stream"
        # Asked for several times per part; remembered while the headers and default type stay as they were.
        of = (id(self._headers), len(self._headers), self._default_type)
        if self._content_type_of != of:
            self._content_type, self._content_type_of = super().get_content_type(), of
        return self._content_type


_POLICY: Final = _RawHeaderPolicy(message_factory=_Part)


def _message(raw: bytes) -> Message:
    """What BytesParser reads, with the header block parsed alone when the body is one part.

    For a single-part body the parser splits it into lines only to join them again as the
    payload (a third of its time on a plain e-mail), so the body is taken as it is instead. That
    holds only when the parser would read the header block as headers alone (nothing in it left
    over for the body) and would not parse the body itself (no multipart or message/* type);
    otherwise the whole message is parsed. An ordinary header block (ASCII, every line a header
    or a fold) is split here as the parser would split it (`_plain_headers`), without its
    line-by-line machinery.
    """
    end = raw.find(b"\r\n\r\n")  # the first empty line: _check_header_lines allows no bare CR or LF before it
    if end > 0:
        headers = _plain_headers(raw[: end + 2])
        if headers is None:
            msg = BytesParser(policy=_POLICY).parsebytes(raw[: end + 4], headersonly=True)
        else:
            msg = _Part(policy=_POLICY)
            msg._headers = headers
            msg.set_payload("")  # as the parser leaves it: nothing of the block was body
        if _payload(msg) == "" and msg.get_content_maintype() not in ("multipart", "message"):
            msg.set_payload(raw[end + 4:].decode("ascii", "surrogateescape"))  # as BytesParser decodes
            return msg
    return BytesParser(policy=_POLICY).parsebytes(raw)


def _plain_headers(head: bytes) -> list[tuple[str, str]] | None:
    """The (name, value) pairs the stdlib parser stores for a header block of CRLF-ended lines, or
    None when it would do anything more with it (8-bit bytes, an envelope line, a line that is
    not a header, a fold with nothing to fold into): those blocks are left to the parser itself.

    The values are made as `policy.header_source_parse` makes them: the first line's rest with
    leading blanks removed, then the folded lines, trailing CR and LF removed.
    (tests/test_mailparse.py holds this to the parser's reading.)
    """
    if not head.isascii():
        return None
    headers: list[tuple[str, str]] = []
    name = ""
    value: list[str] = []
    for line in head.decode("ascii").split("\r\n")[:-1]:
        if line.startswith((" ", "\t")):
            if not name:
                return None
            value.append(line)
            continue
        # The start of a header: a name of printable characters other than space, then a colon
        # (the parser's headerRE); anything else is an envelope line or the start of the body.
        field, colon, first = line.partition(":")
        if not (colon and field and field.isprintable()) or " " in field:
            return None
        if name:
            headers.append((name, "\r\n".join(value).rstrip("\r\n")))
        name, value = field, [first.lstrip(" \t")]
    if name:
        headers.append((name, "\r\n".join(value).rstrip("\r\n")))
    return headers


@dataclass
class _Reading:
    parts: int = 0
    dropped: int = 0
    chars: int = 0
    candidates: list[str] = field(default_factory=list)


def _parse(raw: bytes, envelope_from: str | None, own_hosts: frozenset[str]) -> ParsedMail:
    msg = _message(raw)
    headers = _index_headers(msg)
    reading = _Reading()
    subject = _clean_line(_header(headers, "subject") or "")
    body = _tidy(_read(msg, reading))[:MAX_BODY_CHARS]

    addresses, names = _sender_identity(headers, envelope_from)
    subject = _cut(_remove_sender(subject, addresses, names), MAX_SUBJECT_CHARS)
    body = _remove_sender(body, addresses, names)
    prose = _without_urls(f"{subject}\n{body}")

    content_language = _clean_line(_header(headers, "content-language") or "")[:100] or None
    return ParsedMail(
        message_id=_message_id(headers.get("message-id")),
        subject=subject,
        body_text=body,
        urls=_accepted_urls(_url_candidates(subject) + reading.candidates, addresses, own_hosts),
        attachments_dropped=reading.dropped,
        locale=mailtopic.locale(content_language, _header(headers, "accept-language"), prose),
        category=mailtopic.category(prose),
        automated=_automated(headers, msg.get_content_type(), envelope_from),
        reply_language_hint=content_language,
    )


# --- headers -------------------------------------------------------------------------

_FOLD_RE: Final = re.compile(r"\r?\n(?=[ \t])")
_SURROGATE_RE: Final = re.compile("[\ud800-\udfff]")


_WANTED_HEADERS: Final = frozenset({
    "subject", "message-id", "from", "reply-to", "sender", "return-path", "content-language", "accept-language",
    "auto-submitted", "precedence", "list-id", "list-unsubscribe", "list-post", "x-autoreply", "x-autorespond",
    "x-failed-recipients",
})
_MAX_SAME_HEADER: Final = 5


def _index_headers(msg: Message) -> dict[str, list[str]]:
    """The headers read here, in one pass (Message.get scans all of them on every call)."""
    index: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        key = name.strip().lower()
        if key in _WANTED_HEADERS:
            values = index.setdefault(key, [])
            if len(values) < _MAX_SAME_HEADER:
                values.append(str(value)[:_MAX_HEADER_CHARS])
    return index


def _header(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name)
    return _header_text(values[0]) if values else None


def _header_text(value: str) -> str:
    if value.isascii() and "=?" not in value and "\n" not in value:
        return value  # nothing below would change it: no 8-bit bytes, no encoded word, no fold
    if _SURROGATE_RE.search(value):  # raw 8-bit bytes: UTF-8 (RFC 6532) or a legacy charset
        value = maildecode.decode_bytes(maildecode.raw_bytes(value), None)
    return maildecode.decode_encoded_words(_FOLD_RE.sub("", value))


_ANGLED_RE: Final = re.compile(r"<([^<>]*)>")


def _message_id(values: list[str] | None) -> str | None:
    if not values:
        return None
    text = values[0]
    if _SURROGATE_RE.search(text):
        text = maildecode.decode_bytes(maildecode.raw_bytes(text), None)
    m = _ANGLED_RE.search(text)
    core = "".join((m.group(1) if m else text).split()).strip("<>")
    if not core:
        return None
    core = _visible(core)
    if len(core) > _MAX_MESSAGE_ID_CHARS:
        core = core[:200] + "#" + hashlib.sha256(core.encode()).hexdigest()[:40]
    return core


def _visible(text: str) -> str:
    """For the reply's In-Reply-To header: visible ASCII only, the rest %-escaped."""
    if text.isascii() and text.isprintable() and not any(ch in text for ch in " <>%"):
        return text  # nothing to escape: the usual Message-ID
    return "".join(ch if "!" <= ch <= "~" and ch not in "<>%" else _percent(ch) for ch in text)


def _percent(ch: str) -> str:
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8", "replace"))


_ADDRESS_RE: Final = re.compile(r"[^\s<>()\[\],;:\"@]{1,64}@[^\s<>()\[\],;:\"@]{1,255}")


def _sender_identity(headers: dict[str, list[str]], envelope_from: str | None) -> tuple[list[str], list[str]]:
    addresses: list[str] = []
    names: list[str] = []
    for header in ("from", "reply-to", "sender", "return-path"):
        for value in headers.get(header, []):
            text = _clean_line(_header_text(value))
            addresses += _ADDRESS_RE.findall(text)[:5]
            for entry in text.split(",")[:5]:
                name = entry.partition("<")[0].strip().strip("\"' ")
                if "@" not in name and len(name) >= 4 and any(ch.isalpha() for ch in name):
                    names.append(name)
    if envelope_from:
        addresses += _ADDRESS_RE.findall(envelope_from)[:1]
    addresses = sorted({a.rstrip(".").lower() for a in addresses if a.rstrip(".")}, key=len, reverse=True)
    return addresses, sorted(set(names), key=len, reverse=True)


def _remove_sender(text: str, addresses: list[str], names: list[str]) -> str:
    lowered = text.lower()
    variants = [v for a in addresses for v in (a, a.replace("@", "%40")) if v in lowered]
    if variants:
        text = re.sub("|".join(re.escape(v) for v in variants), EMAIL_MARK, text, flags=re.IGNORECASE)
    names = [n for n in names if n.lower() in lowered]
    if names:
        pattern = r"(?<!\w)(?:" + "|".join(re.escape(n) for n in names) + r")(?!\w)"
        text = re.sub(pattern, NAME_MARK, text, flags=re.IGNORECASE)
    return text


def _automated(headers: dict[str, list[str]], content_type: str, envelope_from: str | None) -> bool:
    """An auto-reply, bounce or list message: the channel must never answer it (RFC 3834)."""
    auto_submitted = (_header(headers, "auto-submitted") or "").partition(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return True
    if (_header(headers, "precedence") or "").strip().lower() in ("bulk", "list", "junk", "auto_reply"):
        return True
    if any(name in headers for name in ("list-id", "list-unsubscribe", "list-post", "x-autoreply",
                                        "x-autorespond", "x-failed-recipients")):
        return True
    return_path = _header(headers, "return-path")  # written by a relay in front of us, if any
    if any(path is not None and path.strip() in ("", "<>") for path in (envelope_from, return_path)):
        return True
    sender = (_header(headers, "from") or "").lower()
    return "mailer-daemon@" in sender or content_type == "multipart/report"


# --- MIME parts ----------------------------------------------------------------------

_READABLE: Final = ("text/plain", "text/html")


def _read(part: Message, reading: _Reading) -> str:
    """The readable text of a part and what it holds; counts what it drops."""
    reading.parts += 1
    if reading.parts > MAX_PARTS:
        reading.dropped += _leaves(part)
        return ""
    try:
        ctype = part.get_content_type()
        attachment = _is_attachment(part, ctype)
    except Exception:  # a header the stdlib cannot read: the part stays unopened
        reading.dropped += 1
        return ""
    payload = _payload(part)
    if isinstance(payload, list) and not (attachment and ctype.startswith("message/")):
        if ctype.startswith("message/") and ctype not in ("message/rfc822", "message/global"):
            reading.dropped += 1  # delivery-status and the like: no text a reporter wrote
            return ""
        texts = [(child, _read(child, reading)) for child in payload if isinstance(child, Message)]
        if ctype == "multipart/alternative":
            return _best_alternative(texts)
        return "\n\n".join(t for _, t in texts if t.strip())
    if attachment or ctype not in _READABLE or not isinstance(payload, str):
        reading.dropped += 1
        return ""
    if reading.chars >= MAX_BODY_CHARS:
        return ""
    text = maildecode.decode_bytes(_transfer_decode(part, payload), _charset(part), cut=len(payload) > MAX_PART_CHARS)
    if ctype == "text/html":
        text, hrefs = mailhtml.html_to_text(text, MAX_BODY_CHARS - reading.chars)
        reading.candidates += hrefs
    text = _clean(text)[: MAX_BODY_CHARS - reading.chars]
    reading.chars += len(text)
    if len(reading.candidates) < MAX_URL_CANDIDATES:
        reading.candidates += _url_candidates(text)
    return text


def _leaves(part: Message) -> int:
    count, stack = 0, [part]
    while stack:
        payload = _payload(stack.pop())
        if isinstance(payload, list):
            stack += [p for p in payload if isinstance(p, Message)]
        else:
            count += 1
    return count


def _payload(part: Message) -> Any:
    # Not get_payload(): for a body with 8-bit bytes it decodes all of it with the declared
    # charset, which is the sender's choice (a tuple there raises; punycode takes minutes).
    return getattr(part, "_payload", None)


def _best_alternative(texts: list[tuple[Message, str]]) -> str:
    # Plain text is what the sender typed; HTML is the fallback (RFC 2046 orders by richness).
    for child, text in texts:
        if text.strip() and child.get_content_type() == "text/plain":
            return text
    return next((t for _, t in texts if t.strip()), "")


def _is_attachment(part: Message, ctype: str) -> bool:
    disposition = (part.get_content_disposition() or "").lower()
    if disposition == "attachment":
        return True
    params = {k.lower() for k, _ in _params(part, "content-disposition")[1:]}
    params |= {k.lower() for k, _ in _params(part, "content-type")[1:]}
    return bool(params & {"filename", "filename*", "name", "name*"}) and not ctype.startswith("multipart/")


def _charset(part: Message) -> str | None:
    """`part.get_content_charset()`, reading the parameters once (see `_params`)."""
    try:
        params = _params(part, "content-type")
        charset = next((v for k, v in params if k.lower() == "charset"), None)
        if isinstance(charset, tuple):  # RFC 2231: the stdlib decodes it
            return part.get_content_charset()
        return charset.lower() if charset is not None and charset.isascii() else None
    except Exception:  # a mangled RFC 2231 charset parameter: decide from the bytes
        return None


# What makes a parameter value more than text between semicolons: quoting, RFC 2231, <...>.
_PARAM_SPECIALS_RE: Final = re.compile(r'["\\<>*]')


def _params(part: Message, header: str) -> list[tuple[str, Any]]:
    """`part.get_params([], header=header)`, the stdlib's reading of a header's parameters.

    A part's Content-Type is read for its type, its charset and whether it names a file; the
    stdlib parses the parameters again each time, with quoting and RFC 2231 rules that an ordinary
    ASCII value without quotes, angle brackets or "*" does not need. Such a value is split here,
    once per part, as the stdlib would split it (tests/test_mailparse.py holds the two to the same
    answers); any other value is the stdlib's to read.
    """
    cache: dict[str, list[tuple[str, Any]]] = part.__dict__.setdefault("_frontdoor_params", {})
    if header in cache:
        return cache[header]
    value = part.get(header)
    if value is None:
        params: list[tuple[str, Any]] = []
    elif isinstance(value, str) and value.isascii() and not _PARAM_SPECIALS_RE.search(value):
        params = []
        for piece in value.split(";"):
            name, eq, rest = piece.partition("=")
            params.append((name.strip().lower(), rest.strip()) if eq else (piece.strip(), ""))
    else:
        params = part.get_params([], header=header)
    cache[header] = params
    return params


def _transfer_decode(part: Message, payload: str) -> bytes:
    data = maildecode.raw_bytes(payload[:MAX_PART_CHARS])
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if cte == "base64":
        return maildecode.b64decode(data)
    if cte == "quoted-printable":
        return binascii.a2b_qp(data)
    return data


# --- URLs ----------------------------------------------------------------------------

# A URL token: from "http(s)://" (urls.URL_START_RE, then urls.url_start) to the next space.
_URL_TOKEN_RE: Final = re.compile(urls.URL_START_RE.pattern + r"\S*", re.IGNORECASE)


def _without_urls(text: str) -> str:
    """Every URL token (from "http(s)://" to the next space) replaced by a space."""
    out: list[str] = []
    pos = 0
    for m in _URL_TOKEN_RE.finditer(text):
        out += (text[pos: urls.url_start(m)], " ")
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


def _url_candidates(text: str) -> list[str]:
    found: list[str] = []
    pos = 0
    for m in urls.URL_START_RE.finditer(text):
        start = urls.url_start(m)
        if start < pos:
            continue
        window = text[start: start + _URL_WINDOW_CHARS].split(None, 1)[0]
        hits = urls.find_urls(window)
        if hits:
            found.append(hits[0])
            pos = start + len(hits[0])
        if len(found) >= MAX_URL_CANDIDATES:
            break
    return found


def _accepted_urls(candidates: list[str], addresses: list[str], own_hosts: frozenset[str]) -> tuple[str, ...]:
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
            if len(accepted) >= MAX_URLS:
                break
    return tuple(accepted)


# --- cleaning text -------------------------------------------------------------------

# Controls (tab and newline kept), and the bidi overrides that can make an analyst's screen
# show text in another order than it is stored.
_UNSAFE_RE: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")
_NEWLINE_RE: Final = re.compile("\r\n|[\r\u2028\u2029\x85]")


# The same characters within ASCII, for bytes.translate: a regular expression's character class
# tests each character in Python's regex engine, about ten times slower on an ordinary e-mail.
_ASCII_UNSAFE: Final = bytes([*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F])


def _clean(text: str) -> str:
    """Safe to store: no lone surrogates (Redis writes encode UTF-8), no control characters."""
    if not text.isascii():
        return _UNSAFE_RE.sub("", _NEWLINE_RE.sub("\n", _SURROGATE_RE.sub("\ufffd", text)))
    if "\r" in text:  # the same as _NEWLINE_RE, whose other line ends are not ASCII
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    data = text.encode("ascii")
    kept = data.translate(None, _ASCII_UNSAFE)
    return text if len(kept) == len(data) else kept.decode("ascii")


def _clean_line(text: str) -> str:
    return " ".join(_clean(text).split())  # runs of whitespace made one space, as re.sub(r"\s+", " ", ...).strip()


_BLANK_LINES_RE: Final = re.compile(r"\n{3,}")


def _tidy(text: str) -> str:
    if " \n" in text or "\t\n" in text:
        text = "\n".join(line.rstrip(" \t") for line in text.split("\n"))
    return _BLANK_LINES_RE.sub("\n\n", text).strip() if "\n\n\n" in text else text.strip()
