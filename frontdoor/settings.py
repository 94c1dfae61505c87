"""Typed, frozen settings read once from the environment and passed in explicitly.

Each channel has a section of its own (`Settings.web`, `Settings.email`, ...): the app factory hands
a channel its section and nothing else of the settings.

A missing or invalid setting raises `ConfigError` naming the variable; `__main__`
prints that one line and exits. Nothing else in the package reads `os.environ`.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .storage import client as redis_client
from .errors import ConfigError

_PREFIX = "FRONTDOOR_"


@dataclass(frozen=True)
class HotlineSettings:
    """Who the reporter is talking to: named on every page and in every message."""

    # Shown to reporters everywhere: the sample page, the form, the receipt pages, the dialog's greeting,
    # e-mail replies.
    name: str = "Example Hotline"  # a placeholder that reads sensibly in a demo; a hotline sets its own
    # ISO 3166-1 alpha-2 of the hotline's own country: most reporters write phone numbers
    # in its national format, so redaction reads them with this region when the reporter's is unknown.
    country: str | None = None
    # Where reporters find the web chat (linked from e-mail replies).
    public_url: str = "http://127.0.0.1:8080/"


@dataclass(frozen=True)
class WebSettings:
    """The chat widget's API and the no-JavaScript form."""

    # Web pages that may embed the chat widget (CORS), e.g. https://www.hotline.example.
    origins: tuple[str, ...] = ()
    # Who may frame our own pages (CSP frame-ancestors): 'none' unless a hotline needs it.
    frame_ancestors: str = "'none'"
    # Per client (a keyed, daily-rotating hash of its address) and minute.
    conversations_per_min: int = 10
    messages_per_min: int = 60
    reports_per_min: int = 10  # through the API and the no-JavaScript form together
    receipts_per_min: int = 20  # receipt look-ups: a reporter checks now and then, a guesser never stops
    # Receipt look-ups of all clients together, in every process: past this rate each one waits its
    # turn (http/pace.py), so a guesser with many addresses still gets no more answers than this.
    receipts_per_s: int = 20
    # Behind one reverse proxy (docker-compose.yml's nginx) the client address is the last
    # X-Forwarded-For entry, the one the proxy added; off, the header is ignored.
    trust_forwarded_for: bool = False


@dataclass(frozen=True)
class EmailSettings:
    """The e-mail channel. from_env turns it on at port 2525; a Settings built in code has it off
    unless asked, so tests and tools never bind a port by accident."""

    port: int = 0
    host: str = "127.0.0.1"
    addresses: tuple[str, ...] = ("report@localhost",)
    relay: tuple[str, int] | None = None  # where auto-replies go out; None: no auto-replies
    max_bytes: int = 1024 * 1024
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Not from the environment: `serve --workers N` sets it, so that N workers share the port (SO_REUSEPORT).
    reuse_port: bool = False

    @property
    def enabled(self) -> bool:
        return self.port != 0


@dataclass(frozen=True)
class OutboxSettings:
    """Messages sent after the request that caused them (see frontdoor/outbox): how hard to try."""

    max_attempts: int = 8
    first_retry_s: float = 30.0  # then doubling, up to max_retry_s
    max_retry_s: float = 3600.0
    poll_s: float = 1.0  # how long a sender waits for new messages before looking again
    # A message not delivered by then is dropped, and with it the recipient (encrypted) it holds.
    ttl_s: int = 3 * 86400


@dataclass(frozen=True)
class MetricsSettings:
    """The Prometheus endpoint (frontdoor/metrics/): a port of its own, off unless asked, so that
    the public port never answers for it and tests and tools never bind it by accident."""

    port: int = 0
    host: str = "127.0.0.1"
    # When set, a scrape must send `Authorization: Bearer <token>`: for a metrics port off loopback.
    token: str | None = field(default=None, repr=False)

    @property
    def enabled(self) -> bool:
        return self.port != 0


@dataclass(frozen=True)
class Settings:
    # None means "start the embedded Redis in data_dir" (make run on a bare machine).
    redis_url: str | None = None
    data_dir: Path = Path("data")
    # None means "load or generate data_dir/secret.key"; see keyring.load_secret.
    secret_key: bytes | None = field(default=None, repr=False)
    queue_shards: int = 1
    lease_s: int = 15 * 60
    retention_days: int = 90
    max_body_bytes: int = 64 * 1024
    # Every HTTP request as a whole, Redis included: past it the answer is a 503.
    request_timeout_s: float = 10.0
    # A connection that has not sent a whole request head this long after it opened (or after its
    # last answer) is closed: a client sending its headers a byte at a time holds no socket longer.
    header_timeout_s: float = 15.0
    log_level: str = "INFO"
    # A conversation nobody answered for this long is forgotten.
    conversation_idle_s: int = 2 * 3600
    # The token a Rasa assistant sends to `frontdoor actions`: required off loopback.
    actions_token: str | None = field(default=None, repr=False)
    # Serve even from a Redis that keeps nothing on disk (neither AOF nor RDB snapshots): for tests
    # and demos only, since its restart loses every acknowledged report (storage/persistence.py).
    allow_volatile_redis: bool = False
    hotline: HotlineSettings = HotlineSettings()
    web: WebSettings = WebSettings()
    email: EmailSettings = EmailSettings()
    outbox: OutboxSettings = OutboxSettings()
    metrics: MetricsSettings = MetricsSettings()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(_PREFIX + name)
            return value.strip() if value is not None and value.strip() else None

        def integer(name: str, default: int, low: int, high: int) -> int:
            raw = get(name)
            if raw is None:
                return default
            try:
                value = int(raw)
            except ValueError:
                raise ConfigError(f"{_PREFIX}{name} must be a whole number, got {raw!r}") from None
            if not low <= value <= high:
                raise ConfigError(f"{_PREFIX}{name} must be between {low} and {high}, got {value}")
            return value

        def boolean(name: str, default: bool) -> bool:
            raw = get(name)
            if raw is None:
                return default
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ConfigError(f"{_PREFIX}{name} must be true or false, got {raw!r}")

        redis_url = get("REDIS_URL")
        if redis_url is not None and redis_client.is_cluster_url(redis_url):
            try:
                redis_client.parse_cluster_url(redis_url)
            except ValueError as exc:  # the reason never quotes the password
                raise ConfigError(f"{_PREFIX}REDIS_URL: {exc}") from None
        elif redis_url is not None and not re.match(r"^(redis|rediss|unix)://", redis_url):
            raise ConfigError(f"{_PREFIX}REDIS_URL must start with redis://, rediss://, unix:// or redis+cluster://, "
                              f"got {redis_url!r}")

        secret = get("SECRET_KEY")
        secret_key = None
        if secret is not None:
            secret_key = secret.encode()
            if len(secret_key) < 32:
                raise ConfigError(f"{_PREFIX}SECRET_KEY must be at least 32 characters long")

        country = get("HOTLINE_COUNTRY")
        if country is not None:
            country = country.upper()
            if not re.fullmatch(r"[A-Z]{2}", country):
                raise ConfigError(f"{_PREFIX}HOTLINE_COUNTRY must be an ISO 3166-1 alpha-2 code such as GB, got {country!r}")

        actions_token = get("ACTIONS_TOKEN")
        if actions_token is not None and len(actions_token) < 32:
            raise ConfigError(f"{_PREFIX}ACTIONS_TOKEN must be at least 32 characters long")

        metrics_token = get("METRICS_TOKEN")
        if metrics_token is not None and len(metrics_token) < 32:
            raise ConfigError(f"{_PREFIX}METRICS_TOKEN must be at least 32 characters long")

        level = (get("LOG_LEVEL") or "INFO").upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError(f"{_PREFIX}LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")

        return cls(
            redis_url=redis_url,
            data_dir=Path(get("DATA_DIR") or "data"),
            secret_key=secret_key,
            queue_shards=integer("QUEUE_SHARDS", 1, 1, 1024),
            lease_s=integer("LEASE_SECONDS", 15 * 60, 10, 24 * 3600),
            retention_days=integer("RETENTION_DAYS", 90, 1, 3650),
            max_body_bytes=integer("MAX_BODY_BYTES", 64 * 1024, 1024, 16 * 1024 * 1024),
            request_timeout_s=integer("REQUEST_TIMEOUT_SECONDS", 10, 1, 300),
            header_timeout_s=integer("HEADER_TIMEOUT_SECONDS", 15, 1, 3600),
            log_level=level,
            conversation_idle_s=integer("CONVERSATION_IDLE_MINUTES", 120, 5, 24 * 60) * 60,
            actions_token=actions_token,
            allow_volatile_redis=boolean("ALLOW_VOLATILE_REDIS", False),
            hotline=HotlineSettings(
                name=(get("HOTLINE_NAME") or HotlineSettings.name)[:80],
                country=country,
                public_url=_url("PUBLIC_URL", get("PUBLIC_URL") or "http://127.0.0.1:8080/"),
            ),
            web=WebSettings(
                origins=_origins(get("WEB_ORIGINS")),
                frame_ancestors=_frame_ancestors(get("FRAME_ANCESTORS")),
                conversations_per_min=integer("RATE_CONVERSATIONS_PER_MINUTE", 10, 1, 100_000),
                messages_per_min=integer("RATE_MESSAGES_PER_MINUTE", 60, 1, 100_000),
                reports_per_min=integer("RATE_REPORTS_PER_MINUTE", 10, 1, 1_000_000),
                receipts_per_min=integer("RATE_RECEIPTS_PER_MINUTE", 20, 1, 1_000_000),
                receipts_per_s=integer("RATE_RECEIPTS_PER_SECOND", 20, 1, 100_000),
                trust_forwarded_for=boolean("TRUST_FORWARDED_FOR", False),
            ),
            email=EmailSettings(
                port=integer("SMTP_PORT", 2525, 0, 65535),
                host=get("SMTP_HOST") or "127.0.0.1",
                addresses=_addresses(get("REPORT_ADDRESSES")),
                relay=_host_port("SMTP_RELAY", get("SMTP_RELAY")),
                max_bytes=integer("SMTP_MAX_BYTES", 1024 * 1024, 10 * 1024, 64 * 1024 * 1024),
                tls_cert=_file("SMTP_TLS_CERT", get("SMTP_TLS_CERT")),
                tls_key=_file("SMTP_TLS_KEY", get("SMTP_TLS_KEY")),
            ),
            outbox=OutboxSettings(
                max_attempts=integer("OUTBOX_MAX_ATTEMPTS", 8, 1, 100),
                first_retry_s=integer("OUTBOX_FIRST_RETRY_SECONDS", 30, 1, 3600),
                ttl_s=integer("OUTBOX_TTL_HOURS", 72, 1, 24 * 30) * 3600,
            ),
            metrics=_metrics(integer("METRICS_PORT", 0, 0, 65535), get("METRICS_HOST") or "127.0.0.1", metrics_token),
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def _metrics(port: int, host: str, token: str | None) -> MetricsSettings:
    """Off loopback the queue's depth and the answers' counts are for the hotline's eyes only, as the
    action server's calls are: a token, or no start."""
    if port and token is None and not is_loopback(host):
        raise ConfigError(f"{_PREFIX}METRICS_TOKEN must be set to serve metrics on {host}: anyone who reaches "
                          "that port would read them")
    return MetricsSettings(port=port, host=host, token=token)

def _origins(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", origin):
            raise ConfigError(f"{_PREFIX}WEB_ORIGINS: {origin!r} is not an origin such as https://www.hotline.example")
    return origins


def _frame_ancestors(raw: str | None) -> str:
    if raw is None:
        return "'none'"
    for source in raw.split():
        if not re.fullmatch(r"'none'|'self'|https?://[A-Za-z0-9.*-]+(:[0-9]{1,5})?", source):
            raise ConfigError(f"{_PREFIX}FRAME_ANCESTORS: {source!r} is not 'none', 'self' or an origin")
    return raw


def _addresses(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ("report@localhost",)
    found = tuple(a.strip().lower() for a in raw.split(",") if a.strip())
    for address in found:
        if not re.fullmatch(r"[^@\s<>]+@[A-Za-z0-9.-]+", address):
            raise ConfigError(f"{_PREFIX}REPORT_ADDRESSES: {address!r} is not an e-mail address such as report@hotline.example")
    if not found:
        raise ConfigError(f"{_PREFIX}REPORT_ADDRESSES must name at least one address")
    return found


def _host_port(name: str, raw: str | None) -> tuple[str, int] | None:
    if raw is None:
        return None
    match = re.fullmatch(r"([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):([0-9]{1,5})", raw)
    if not match or not 0 < int(match.group(2)) < 65536:
        raise ConfigError(f"{_PREFIX}{name} must be host:port, such as smtp.hotline.example:25, got {raw!r}")
    return match.group(1).strip("[]"), int(match.group(2))


def _file(name: str, raw: str | None) -> Path | None:
    if raw is None:
        return None
    path = Path(raw)
    if not path.is_file():
        raise ConfigError(f"{_PREFIX}{name}: no such file {raw!r}")
    return path


def _url(name: str, raw: str) -> str:
    if not re.fullmatch(r"https?://[^\s]+", raw):
        raise ConfigError(f"{_PREFIX}{name} must be an http(s) URL, got {raw!r}")
    return raw
