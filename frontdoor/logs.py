"""Every log line a frontdoor process writes, made in one place so that none can name a reporter.

Our own loggers (`frontdoor.*`) say ids, channels and outcomes by construction. The libraries we run
do not: aiohttp's "Error handling request" names the client's address and its exception quotes the
request line; aiosmtpd's `mail.log` writes the peer and the envelope sender; rasa-sdk's forms log
slot values; asyncio in debug mode names the peer of every connection. So a library's record never
reaches the output as written: it is replaced by a fixed sentence chosen by what it is (`VETTED`),
or, when nobody foresaw it, by where it came from (module and line), which is enough to look it up.
And no exception's message is printed from anywhere, ours included (a message may quote what was
sent): a traceback is the exception's type and its frames.

`configure` is called once per process, by every command (cli.py), before anything is logged.
"""

from __future__ import annotations

import errno
import logging
import sys
import threading
import traceback
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TextIO

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from .metrics import answered

ACCESS_LOG = logging.getLogger("frontdoor.access")
log = logging.getLogger("frontdoor")

# Every library logger the processes run: a handler one of them installed at import is removed, and
# the list is the review list (their records go through VETTED).
LIBRARY_LOGGERS = (
    "aiohttp", "aiohttp.access", "aiohttp.client", "aiohttp.internal", "aiohttp.server", "aiohttp.web",
    "aiohttp.websocket", "mail.log", "mail.debug", "asyncio", "rasa_sdk", "sanic", "sanic.root",
    "sanic.error", "sanic.access", "sanic.server", "sanic.websockets", "redis", "uvloop", "py.warnings",
)


@dataclass(frozen=True)
class Vetted:
    """A library's record we know (in VETTED, under its logger), and the sentence written for it.
    `starts` is how its template begins (the message before %-formatting; for an f-string the literal
    text before the first field; for a message that is an object, the object's type name). "{exc}" in `says` is the type of the
    record's exception. `frames`: also print the exception's frames (never its message)."""

    starts: str
    says: str
    frames: bool = False


# By logger (a record of a child logger, such as aiohttp.server.x, is its parent's): the first rule whose
# `starts` matches wins.
VETTED: dict[str, tuple[Vetted, ...]] = {
    # aiohttp: the server's own complaints about a connection (web_protocol.py)
    "aiohttp.server": (
        Vetted("Error handling request", "malformed request from a client: {exc}"),
        Vetted("Unhandled exception", "unhandled exception while serving a request: {exc}", frames=True),
        Vetted("Ignored premature client disconnection", "a client disconnected before the answer"),
        Vetted("Request handler timed out", "a request handler timed out"),
        Vetted("Start lingering close timer", "lingering before closing a connection"),
        Vetted("Uncompleted request", "a client closed its connection mid-request"),
        Vetted("Missing return statement", "a request handler returned no response"),
        Vetted("Web-handler should return", "a request handler returned no response"),
        Vetted("Failed to create request handler", "request handler made with fewer options"),
    ),
    "aiohttp.internal": (
        Vetted("Exception in eof callback", "a stream callback failed: {exc}", frames=True),
        Vetted("Multiple access to StreamReader", "a stream was read past its end"),
        Vetted("Failed to close multipart part", "a multipart part could not be closed: {exc}"),
    ),
    "aiohttp.client": (
        Vetted("Error while closing connector", "a client connector did not close cleanly"),
    ),
    # aiosmtpd (smtp.py): every line of a session names the peer, some the sender or a recipient
    "mail.log": (
        Vetted("Peer: ", "smtp: a client connected"),
        Vetted("%r handling connection", "smtp: session started"),
        Vetted("%r connection lost", "smtp: connection closed"),
        Vetted("%r EOF received", "smtp: the client closed its side"),
        Vetted("%r connection timeout", "smtp: a session timed out"),
        Vetted("%r << ", "smtp: reply sent"),
        Vetted("%r >> ", "smtp: command received"),
        Vetted("_handle_client readline", "smtp: line read"),
        Vetted("%r SMTP session exception", "smtp: a session failed: {exc}", frames=True),
        Vetted("%r unrecognised", "smtp: unrecognised command"),
        Vetted("%r too many bogus commands", "smtp: too many unrecognised commands; closing"),
        Vetted("%r over limit for", "smtp: a command sent too many times; closing"),
        Vetted("%r Connection lost during _handle_client", "smtp: connection lost"),
        Vetted("%r Exception in handle_exception", "smtp: the error handler failed: {exc}", frames=True),
        Vetted("%r sender: ", "smtp: envelope sender given"),
        Vetted("%r recip: ", "smtp: recipient given"),
        Vetted("DATA readline", "smtp: message line read"),
        Vetted("Connection lost during DATA", "smtp: connection lost during DATA"),
        Vetted("Available AUTH mechanisms", "smtp: server made"),
    ),
    # asyncio (and uvloop, which logs as asyncio): the loop's exception handler, debug-mode reports
    "asyncio": (
        Vetted("Task exception was never retrieved", "a task's exception was never retrieved: {exc}", frames=True),
        Vetted("Future exception was never retrieved", "a future's exception was never retrieved: {exc}", frames=True),
        Vetted("Exception in callback", "an event-loop callback failed: {exc}", frames=True),
        Vetted("Task was destroyed but it is pending", "a pending task was destroyed"),
        Vetted("Unclosed", "a connection or session was not closed"),
        Vetted("Fatal", "a connection failed: {exc}"),
        Vetted("SSL", "a TLS connection failed: {exc}"),
        Vetted("socket.send() raised exception", "a write to a closed connection"),
        Vetted("Executing", "a callback held the event loop (debug mode)"),
        Vetted("poll", "a slow poll of the event loop (debug mode)"),
        Vetted("Using selector", "event loop made (debug mode)"),
    ),
    # sanic and rasa-sdk: the action server (dialog/action_server.py)
    "sanic.root": (
        Vetted("Received signal", "action server: stopping on a signal"),
        Vetted("Server Stopped", "action server: stopped"),
        Vetted("Goin' Fast", "action server: listening"),
    ),
    "sanic.server": (
        Vetted("Starting worker", "action server: starting"),
        Vetted("Worker ready", "action server: ready"),
        Vetted("Stopping worker", "action server: stopping"),
        Vetted("Worker complete", "action server: done"),
    ),
    "sanic.error": (
        Vetted("Exception occurred while handling uri", "action server: a request failed: {exc}", frames=True),
        Vetted("Experienced exception while trying to serve", "action server: stopped: {exc}"),
    ),
    "rasa_sdk.executor": (
        Vetted("Registered function for", "rasa_sdk: an action registered"),
        Vetted("Received request to run", "rasa_sdk: an action called"),
        Vetted("Finished running", "rasa_sdk: an action finished"),
    ),
    "rasa_sdk.endpoint": (
        Vetted("Exception occurred during execution of request", "rasa_sdk: an action failed: {exc}", frames=True),
        Vetted("ActionNotFoundException", "rasa_sdk: no such action"),
        Vetted("ActionExecutionRejection", "rasa_sdk: an action refused the call"),
        Vetted("ActionMissingDomainException", "rasa_sdk: a call without the domain"),
    ),
    "py.warnings": (
        Vetted("", "a Python warning (its text is not shown)"),
    ),
}


def is_ours(name: str) -> bool:
    return name == "frontdoor" or name.startswith("frontdoor.")


def _belongs(name: str, logger: str) -> bool:
    return name == logger or name.startswith(logger + ".")


def safe_message(record: logging.LogRecord) -> tuple[str, BaseException | None]:
    """The message to write for `record`, and the exception whose frames follow it (if any)."""
    exc = record.exc_info[1] if isinstance(record.exc_info, tuple) else None
    if is_ours(record.name):
        try:
            return record.getMessage(), exc
        except Exception:  # wrong arguments for the template: say where, not what
            return f"(a log call with bad arguments at {record.module}:{record.lineno})", None
    template = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
    for logger, rules in VETTED.items():
        if not _belongs(record.name, logger):
            continue
        for rule in rules:
            if template.startswith(rule.starts):
                said = rule.says.replace("{exc}", type(exc).__name__ if exc is not None else "-")
                return said, exc if rule.frames else None
    # Not foreseen: neither the text nor its arguments, only where it came from.
    return f"(message withheld, from {record.module}:{record.lineno})", exc


def describe(exc: BaseException) -> str:
    """A traceback without any message: the frames and types of the exception and of what led to it."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):  # chains can be cycles
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    lines = []
    for position, item in enumerate(reversed(chain)):
        if position:
            lines.append("which led to:")
        lines.append("Traceback (most recent call last):")
        for frame in traceback.extract_tb(item.__traceback__):
            lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
        code = errno.errorcode.get(item.errno or 0, "") if isinstance(item, OSError) else ""
        lines.append(f"{type(item).__module__}.{type(item).__qualname__}" + (f" [{code}]" if code else ""))
    return "\n".join(lines)


class SafeFormatter(logging.Formatter):
    """Time, level, logger and the safe message; never an exception's text or a record's arguments."""

    def format(self, record: logging.LogRecord) -> str:
        message, exc = safe_message(record)
        line = f"{self.formatTime(record)} {record.levelname} {record.name} {message}"
        return line if exc is None else f"{line}\n{describe(exc)}"


class SafeHandler(logging.StreamHandler):
    """logging's own handleError prints the record's message and arguments: this one says where."""

    def handleError(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(f"frontdoor: a log record from {record.name} at {record.module}:{record.lineno} "
                              "could not be written\n")
        except Exception:  # the stream itself is gone: nothing left to tell
            pass


def configure(level: str, stream: TextIO | None = None) -> None:
    """One handler, on the root logger, with SafeFormatter; every other handler removed and every
    logger propagating to it; FRONTDOOR_LOG_LEVEL on the root, the libraries inheriting it. Also the
    last resorts that print on their own: uncaught exceptions, thread and unraisable hooks, warnings."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = SafeHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(SafeFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    existing = [name for name, made in logging.root.manager.loggerDict.items() if isinstance(made, logging.Logger)]
    for name in (*LIBRARY_LOGGERS, *existing):
        logger = logging.getLogger(name)
        for own in list(logger.handlers):
            logger.removeHandler(own)
        logger.propagate = True
        if name in LIBRARY_LOGGERS:
            logger.setLevel(logging.NOTSET)
    logging.lastResort = handler
    logging.captureWarnings(True)
    sys.excepthook = _uncaught
    threading.excepthook = _uncaught_in_thread
    sys.unraisablehook = _unraisable


def _uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    log.critical("uncaught %s", kind.__name__, exc_info=(kind, exc, tb))


def _uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        log.error("uncaught %s in a thread", args.exc_type.__name__, exc_info=args.exc_value)


def _unraisable(args: Any) -> None:  # sys.UnraisableHookArgs; the default hook prints the object's repr
    if args.exc_value is not None:
        log.warning("exception ignored: %s", args.exc_type.__name__, exc_info=args.exc_value)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class AccessLogger(AbstractAccessLogger):
    """Method, route pattern, status and time: no client address, no user agent, no path
    parameters (a receipt code in a URL would link a reporter to their report). It never raises:
    a request that failed to parse has no route (aiohttp's match_info then asserts) and may carry
    any method at all; both are logged as "-". It sees every answer, those aiohttp made for a
    request no handler saw included, so it is also where answers are counted (metrics/), whatever
    the log level (aiohttp asks `enabled`, which is always true here)."""

    def __init__(self, logger: logging.Logger, log_format: str) -> None:
        super().__init__(ACCESS_LOG, log_format)  # ours, whatever aiohttp hands in: SafeFormatter trusts it

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        try:
            method = request.method if request.method in _METHODS else "-"
            route, status = _route(request), int(response.status)
            answered(status, route)
            self.logger.info("%s %s %s %.1fms", method, route, status, time * 1000)
        except Exception:  # the access log must never be why a request fails
            self.logger.warning("an access log line could not be made")


def _route(request: BaseRequest) -> str:
    try:
        resource = request.match_info.route.resource  # type: ignore[attr-defined]
    except (AssertionError, AttributeError):  # never matched (unparsable), or a bare BaseRequest
        return "-"
    return resource.canonical if resource is not None else "-"
