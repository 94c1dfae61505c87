"""Whether the Redis we are given keeps what it acknowledges: checked once, before serving.

A report is acknowledged (a 201, an SMTP 250, a receipt shown) once Redis holds it in memory. A Redis
that neither appends to its log (AOF) nor takes snapshots (RDB) loses every one of them at its next
restart, and the queue's consumer groups with them; so start-up refuses such a Redis unless the
operator says it is meant (FRONTDOOR_ALLOW_VOLATILE_REDIS=1: tests and demos). On a cluster every
node is asked, since any of them may hold a shard.

A managed Redis may refuse CONFIG (renamed, or denied by its ACL): then INFO's persistence section
is asked, which tells an AOF and snapshots already taken, but not a snapshot schedule. When neither
tells, start-up goes on with a warning: refusing would lock out every managed service that persists
on its own terms, and docs/operations.md says to check it by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from ..errors import ConfigError
from .client import Client

log = logging.getLogger(__name__)
ALLOW = "FRONTDOOR_ALLOW_VOLATILE_REDIS"
Ask = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Persistence:
    mode: str  # as logged: "aof everysec", "rdb save 3600 1 300 100", "none", "unknown (...)"
    durable: bool | None  # None: this node would not say


async def node_persistence(ask: Ask) -> Persistence:
    """One node's persistence; `ask(*command)` sends a command to that node."""
    try:
        aof = (await ask("CONFIG GET", "appendonly")).get("appendonly", "no")
        fsync = (await ask("CONFIG GET", "appendfsync")).get("appendfsync", "")
        save = (await ask("CONFIG GET", "save")).get("save", "").strip()
    except ResponseError:  # CONFIG refused (renamed, or not allowed to this user): ask INFO
        return await _from_info(ask)
    parts = [f"aof {fsync}".strip()] if aof == "yes" else []
    if save:
        parts.append(f"rdb save {save}")
    return Persistence(" + ".join(parts), True) if parts else Persistence("none", False)


async def _from_info(ask: Ask) -> Persistence:
    try:
        info = await ask("INFO", "persistence")
    except ResponseError:
        return Persistence("unknown (CONFIG and INFO refused)", None)
    if int(info.get("aof_enabled", 0)) == 1:
        return Persistence("aof (as INFO says; CONFIG refused)", True)
    # INFO has no snapshot schedule, only snapshots that happened: one seen is proof enough.
    if int(info.get("rdb_saves", 0)) > 0 or int(info.get("rdb_last_bgsave_time_sec", -1)) >= 0:
        return Persistence("rdb (snapshots seen by INFO; CONFIG refused)", True)
    return Persistence("unknown (CONFIG refused; INFO shows no AOF and no snapshot yet)", None)


async def persistence(redis: Client) -> dict[str, Persistence]:
    """Every node's, by its name (host:port); a single Redis is named "redis"."""
    if isinstance(redis, aioredis.Redis):
        return {"redis": await node_persistence(redis.execute_command)}
    await redis.initialize()
    found = {}
    for node in redis.get_nodes():
        async def ask(*command: Any, node: Any = node) -> Any:
            return await redis.execute_command(*command, target_nodes=node)
        found[node.name] = await node_persistence(ask)
    return found


async def check_persistence(redis: Client, *, allow_volatile: bool) -> None:
    """Log the persistence mode once; raise ConfigError for a Redis that keeps nothing, unless allowed."""
    nodes = await persistence(redis)
    volatile = sorted(name for name, p in nodes.items() if p.durable is False)
    if volatile and not allow_volatile:
        where = "Redis" if list(nodes) == ["redis"] else "Redis node(s) " + ", ".join(volatile)
        raise ConfigError(f"{where} keeps nothing on disk (appendonly no, save \"\"): a restart would lose every "
                          f"acknowledged report. Turn on appendonly yes or RDB snapshots (save), or set {ALLOW}=1 "
                          "for tests and demos")
    shown = {name: p.mode if p.durable is not False else f"none (allowed by {ALLOW})" for name, p in nodes.items()}
    modes = set(shown.values())
    if len(modes) == 1:
        text = modes.pop() + ("" if list(nodes) == ["redis"] else f" (each of {len(nodes)} nodes)")
    else:
        text = "; ".join(f"{name} {mode}" for name, mode in sorted(shown.items()))
    if any(p.durable is None for p in nodes.values()):
        log.warning("redis persistence cannot be verified: %s; check that the service keeps its data", text)
    else:
        log.info("redis persistence: %s", text)
