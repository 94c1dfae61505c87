"""Why a reported URL was refused, in words a member of the public understands.

Apart from the parser so that the host checks (hosts.py) raise the same error without importing it.
"""

from __future__ import annotations

from typing import Final

MAX_URL_LENGTH: Final = 2048

_EXAMPLE: Final = "for example https://www.example.com/page"

_MESSAGES: Final[dict[str, str]] = {
    "empty": f"Please enter the web address of the page, {_EXAMPLE}.",
    "too_long": (
        f"That web address is longer than {MAX_URL_LENGTH:,} characters, which is more than we can accept. "
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
