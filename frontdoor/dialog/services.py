"""What the dialog's actions need from the rest of frontdoor, passed in explicitly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..keyring import Keyring, load_secret
from ..queue import TriageQueue
from ..settings import Settings

if TYPE_CHECKING:
    from ..prevention_content import Catalog


@dataclass
class DialogServices:
    queue: TriageQueue
    keyring: Keyring
    catalog: Catalog
    default_region: str | None = None
    hotline_name: str = "hotline"

    @classmethod
    def build(cls, settings: Settings, redis_url: str) -> DialogServices:
        from ..prevention_content import load_catalog
        from ..storage.client import COMMAND_TIMEOUT_S, connect

        # For `frontdoor chat` and the action server, which have no per-request deadline of their own.
        redis = connect(redis_url, socket_timeout=COMMAND_TIMEOUT_S)
        queue = TriageQueue(redis, shards=settings.queue_shards, lease_ms=settings.lease_s * 1000,
                            retention_ms=settings.retention_days * 86_400_000)
        return cls(queue, Keyring(load_secret(settings)), load_catalog(), settings.hotline_country, settings.hotline_name)

    @classmethod
    def from_env(cls) -> DialogServices:
        """For rasa-sdk's own action server, which instantiates actions without arguments."""
        settings = Settings.from_env()
        if settings.redis_url is None:
            from ..errors import ConfigError

            raise ConfigError("FRONTDOOR_REDIS_URL must be set for the action server")
        return cls.build(settings, settings.redis_url)
