"""What the intake and the form check after the JSON Schemas, written as JSON Schema for the OpenAPI
document, so that a client (and schemathesis, tests/api/test_schemathesis.py) knows which requests
are accepted before sending one.

The stored schemas (reports/schemas/) stay as they are: `build_report` checks them first and then
these rules itself, with a refusal code each (`nothing_to_report`, `url_private_address`, ...). Here
the same rules are only described:

- a report needs a link, where it happened (platform or account name) or a description that is not
  blank; contact details only with `contact_consent: true`;
- a URL is an http(s) address of a public host. `URL_PATTERN` is the form of the addresses a client
  can count on: lower-case host names of one to four labels under an alphabetic top-level domain
  (not `localhost`, not `onion`, whose names the parser checks itself), an optional port and path.
  The parser takes more than this (upper case, IDNA, IP addresses, queries); the description says so.
"""

from __future__ import annotations

from typing import Any, Final

from ..dialog import form as dialog_form
from ..reports.build import BLANK_CHARS

# Listed (reports/build.py), because JSON Schema's \\s is ECMA-262's, not Python's.
NOT_BLANK: Final = f"[^{BLANK_CHARS}]"

_LABEL = "[a-z0-9]{1,20}(-[a-z0-9]{1,20})?"  # never "--": no label that IDNA would read as punycode
URL_PATTERN: Final = (rf"^https?://({_LABEL}\.){{1,3}}(?!(localhost|onion)$)[a-z]{{2,20}}"
                      r"(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~-]{0,40}){0,4}$")
URL: Final = {"type": "string", "pattern": URL_PATTERN,
              "description": "An http(s) address of a public host (no private or loopback address, no credentials). "
                             "The pattern is the form a client can count on; the server also takes other forms "
                             "a browser would (upper case, IDNA, an IP address, a query) and says what is wrong with "
                             "any it refuses (error codes url_*)."}


def submission(base: dict[str, Any]) -> dict[str, Any]:
    """The API's request body: `base` (the stored submission schema) and what the intake checks after it."""
    something = {"anyOf": [
        {"required": ["urls"], "properties": {"urls": {"minItems": 1}}},
        {"required": ["description"], "properties": {"description": {"type": "string", "pattern": NOT_BLANK}}},
        {"required": ["where_seen"], "properties": {"where_seen": {"type": "object", "anyOf": [
            {"required": ["platform"], "properties": {"platform": {"type": "string", "minLength": 1}}},
            {"required": ["account"], "properties": {"account": {"type": "string", "minLength": 1}}}]}}},
    ]}
    consent = {"if": {"required": ["contact"], "properties": {"contact": {"type": "string"}}},
               "then": {"required": ["contact_consent"], "properties": {"contact_consent": {"const": True}}}}
    urls = {"properties": {"urls": {"items": URL}}}
    return {"allOf": [base, urls, something, consent],
            "description": "A report needs at least one link, where it happened (platform or account name), or a "
                           "description; contact details only with contact_consent: true."}


def form_fields() -> dict[str, Any]:
    """POST /report's fields as the form sends them (every value a string). What the form checks
    between fields (a link or a platform; each line of `urls` an address; contact with consent) it
    explains on the page it answers 400 with, next to the field."""

    def choice(slot: str) -> dict[str, Any]:
        return {"type": "string", "enum": list(dialog_form.SLOTS[slot].choices)}

    def text(max_chars: int) -> dict[str, Any]:
        return {"type": "string", "maxLength": max_chars}

    return {"type": "object", "required": ["category", "where_seen", "danger", "role"], "properties": {
        "category": choice("category"), "where_seen": choice("where_seen"), "role": choice("role"),
        "danger": {"type": "string", "enum": ["yes", "no"]},
        "urls": {"type": "string", "description": "One address a line; the first 20 lines are read."},
        "platform": text(100), "account": text(200), "description": text(4000), "contact": text(200),
        "contact_consent": {"type": "string", "description": "\"yes\" to allow contact"},
        "when_seen": {"type": "string", "description": "today, this_week or earlier; anything else is not given"},
        "country": {"type": "string", "description": "ISO 3166-1 alpha-2; anything else is not given"},
        "lang": {"type": "string", "description": "en, de or fr; anything else: the browser's language"},
    }}


def receipt_fields() -> dict[str, Any]:
    """POST /receipt's fields. Any code may be sent: one that cannot be a receipt code is answered
    like one no report has (404), so the document does not narrow it."""
    return {"type": "object", "required": ["code"], "properties": {
        "code": {"type": "string", "description": "The receipt code as typed (any case, spaces, dashes)"},
        "lang": {"type": "string", "description": "en, de or fr; anything else: the browser's language"},
    }}
