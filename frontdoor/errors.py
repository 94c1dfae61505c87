"""The package's one exception tree.

Every error a caller can cause carries a stable `code` and an HTTP `status`, so the
API edge maps all of them in one middleware and a channel can turn the same error
into a re-prompt or an SMTP reply without knowing about HTTP.
"""

from __future__ import annotations


class FrontdoorError(Exception):
    code = "error"
    status = 500

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ConfigError(FrontdoorError):
    """A setting is missing or invalid; start-up stops with this one line."""

    code = "config"


class InvalidInput(FrontdoorError):
    code = "invalid"
    status = 400


class UnsupportedMediaType(FrontdoorError):
    """The body is in a form the route does not read (its Content-Type)."""

    code = "unsupported_media_type"
    status = 415


class NotFound(FrontdoorError):
    code = "not_found"
    status = 404


class Conflict(FrontdoorError):
    """The request is well-formed but the case is not in a state that allows it."""

    code = "conflict"
    status = 409


class Unauthorized(FrontdoorError):
    code = "unauthorized"
    status = 401


class Forbidden(FrontdoorError):
    code = "forbidden"
    status = 403


class RateLimited(FrontdoorError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unavailable(FrontdoorError):
    code = "unavailable"
    status = 503
