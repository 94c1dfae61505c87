"""The long-lived objects a request handler needs, built once per app and reached through one AppKey.

Its own module so that channels and API routes can reach them without importing the app
factory (which imports the channels).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from .accounts import Analysts
from ..dialog.engine import Dialog
from ..dialog.services import DialogServices
from ..dialog.store import ConversationStore
from ..keyring import Keyring, load_secret
from ..prevention_content import load_catalog
from ..queue import TriageQueue
from ..http.ratelimit import RateLimiter
from ..storage.client import Client, connect
from ..settings import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    redis: Client  # one node or a Redis Cluster: see redis_client.connect
    keyring: Keyring
    queue: TriageQueue
    analysts: Analysts
    dialog: Dialog
    limiter: RateLimiter


SERVICES = web.AppKey("services", Services)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


def build_services(settings: Settings, redis_url: str) -> Services:
    redis = connect(redis_url)
    keyring = Keyring(load_secret(settings))
    queue = TriageQueue(redis, shards=settings.queue_shards, lease_ms=settings.lease_s * 1000,
                        retention_ms=settings.retention_days * 86_400_000)
    dialog_services = DialogServices(queue, keyring, load_catalog(), settings.hotline_country, settings.hotline_name)
    dialog = Dialog(dialog_services, ConversationStore(redis, idle_ttl_s=settings.conversation_idle_s,
                                                      write_timeout_s=settings.request_timeout_s))
    limiter = RateLimiter(redis, keyring, {"conversations": settings.rate_conversations_per_min,
                                           "messages": settings.rate_messages_per_min,
                                           "reports": settings.rate_conversations_per_min})
    return Services(settings, redis, keyring, queue, Analysts(redis, keyring), dialog, limiter)
