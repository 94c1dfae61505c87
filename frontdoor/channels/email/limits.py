"""The caps and refusals that keep one hostile e-mail from costing more than its size.

Every message reaches `parse.parse_mail` from a stranger, so the work done on it must be
linear in its length and the answer must be a report or an SMTP refusal, never a crash or a
stall of the event loop. The limits live here, in one place, so that a reviewer can see each
one next to the reason for it; the modules that read the message only apply them.

- `refuse_unreadable` runs before any parser: aiosmtpd 1.4.6 passes a bare CR or LF inside a
  header line through, and Python's parser would end the line there and read a header that a
  filter in front of us never saw.
- `CappedHeaderPolicy` cuts header values before the stdlib reads them: `Message.get_params`
  (under `get_param`, `get_content_charset`, `get_filename`, the parser's boundary lookup)
  splits a parameter list in time quadratic in the ";" inside quotes, so Content-Type and
  Content-Disposition are handed over at most PARAM_HEADER_CHARS long with at most MAX_PARAMS
  parameters, and every other header at most HEADER_CHARS.

A message that meets a cap on its content (links, parts, nesting, text) is still a report of what
fits, and never silently: `Omitted` counts what was left out, the report carries the counts for the
analyst, and the auto-reply tells the sender what to send again (replies.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from email.policy import EmailPolicy
from typing import Any, Final

from ...errors import FrontdoorError

__all__ = [
    "HEADER_CHARS", "MAX_ATTACHMENTS_FIELD", "MAX_BODY_CHARS", "MAX_DEPTH", "MAX_DESCRIPTION_CHARS",
    "MAX_MESSAGE_BYTES", "MAX_MESSAGE_ID_CHARS", "MAX_PARAMS", "MAX_PART_CHARS", "MAX_PARTS", "MAX_SAME_HEADER",
    "MAX_SUBJECT_CHARS", "MAX_URLS", "MAX_URL_CANDIDATES", "PARAM_HEADERS", "PARAM_HEADER_CHARS",
    "CappedHeaderPolicy", "MailRejected", "Omitted", "refuse_unreadable",
]

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
MAX_MESSAGE_ID_CHARS: Final = 250
MAX_SAME_HEADER: Final = 5           # values kept of one header name (From, Reply-To, ...)

# Header values as the stdlib and this package read them (see CappedHeaderPolicy).
HEADER_CHARS: Final = 8 * 1024
PARAM_HEADER_CHARS: Final = 1024
MAX_PARAMS: Final = 16
PARAM_HEADERS: Final = frozenset({"content-type", "content-disposition"})


@dataclass(frozen=True)
class Omitted:
    """What the caps left out of one message, each an "at least": the parser stops looking at a cap.

    links: links beyond the MAX_URLS kept (distinct and reportable, or not looked at past
    MAX_URL_CANDIDATES); parts: MIME parts not read (past MAX_PARTS, or text once MAX_BODY_CHARS were
    read); nested_parts: parts nested deeper than MAX_DEPTH, not opened; text_chars: characters of
    text read but not kept in the report's description.
    """

    links: int = 0
    parts: int = 0
    nested_parts: int = 0
    text_chars: int = 0

    def counts(self) -> dict[str, int]:
        """The non-zero counts, as the report and the auto-reply carry them (empty: nothing left out)."""
        return {name: count for name, count in asdict(self).items() if count}


class MailRejected(FrontdoorError):
    """The message cannot become a report; the SMTP server answers with `reply`."""

    code = "mail_rejected"
    status = 400

    def __init__(self, smtp_code: int, reply: str) -> None:
        super().__init__(reply)
        self.smtp_code = smtp_code
        self.reply = reply


def refuse_unreadable(raw: bytes) -> None:
    """Raises MailRejected for a message too big to read or with a header line not ended in CRLF.

    aiosmtpd splits DATA on CRLF only, so every line it hands over ends in CRLF and a bare CR or
    LF can only be inside a line. Python's parser ends a header line at either, which would read
    a header a sending filter never saw. Such a line is refused, and so is a message written with
    bare-LF line ends (SMTP requires CRLF; aiosmtpd would not end its DATA anyway). The body may
    hold bare CRs and LFs: nothing there is read as a header.
    """
    if len(raw) > MAX_MESSAGE_BYTES:
        raise MailRejected(552, "552 5.3.4 Message too big")
    end = 0 if raw.startswith(b"\r\n") else raw.find(b"\r\n\r\n")
    head = raw if end < 0 else raw[: end + 2]
    crlf = head.count(b"\r\n")  # every CR must begin one of these and every LF end one
    if head.count(b"\r") != crlf or head.count(b"\n") != crlf:
        raise MailRejected(550, "550 5.6.0 Malformed header line (bare CR or LF); lines must end in CRLF")


def cap_header(name: str, value: str) -> str:
    """`value` as short as the stdlib may see it; parameters past MAX_PARAMS are dropped whole."""
    if name.lower() in PARAM_HEADERS:
        value = value[:PARAM_HEADER_CHARS]
        if value.count(";") > MAX_PARAMS:
            value = ";".join(value.split(";", MAX_PARAMS + 1)[: MAX_PARAMS + 1])
        return value
    return value[:HEADER_CHARS]


class CappedHeaderPolicy(EmailPolicy):
    """`policy.default`'s parsing, with header values fetched as capped strings.

    Strings, not header objects: building those costs about a millisecond a message and has
    crashed on hostile input, and nothing here needs more than the text. The cap is applied on
    every fetch (`Message.get`, `items`, and the stdlib's own reads of Content-Type), so no
    stdlib code reading a header can see more of it than `cap_header` allows.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        return cap_header(name, value)
