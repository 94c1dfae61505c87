"""Analyst accounts and their bearer tokens.

Tokens are shown once and stored only as a keyed digest (see Keyring.token_digest), so a
copy of the Redis data does not let anyone act as an analyst.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import Conflict, InvalidInput, NotFound
from ..keyring import Keyring
from ..storage import keys
from ..storage.client import Client
from ..storage.scripts import Script, source
from ..reports.build import now_iso
from ..queue.views import iso

ROLES = ("analyst", "supervisor")
# Also the consumer name on the lanes, so no "~" (reserved for the released pseudo-consumer).
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
TOKEN_PREFIX = "fdt_"


@dataclass(frozen=True)
class Analyst:
    name: str
    role: str

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"


class Analysts:
    def __init__(self, redis: Client, keyring: Keyring, *, clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.redis = redis
        self.keyring = keyring
        self.clock_ms = clock_ms
        # Each change is one script over keys of the {auth} slot: atomic on one Redis and on a cluster,
        # where redis-py's pipeline offers neither MULTI nor WATCH.
        self._add = Script(redis, source(__package__, "add_analyst.lua"))
        self._revoke = Script(redis, source(__package__, "revoke_analyst.lua"))
        self._authenticate = Script(redis, source(__package__, "authenticate.lua"))

    async def add(self, name: str, role: str) -> str:
        """Create an analyst and return their token: the only time it exists in clear."""
        if not NAME_RE.match(name):
            raise InvalidInput("name: use 1-64 lower-case letters, digits, '.', '_' or '-'", code="invalid_field")
        if role not in ROLES:
            raise InvalidInput(f"role: must be one of {', '.join(ROLES)}", code="invalid_field")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = self.keyring.token_digest(token)
        created = await self._add([keys.analyst(name), keys.analyst_token(digest), keys.ANALYSTS],
                                  [name, role, digest, now_iso()])
        if not created:
            raise Conflict(f"analyst {name} exists already", code="analyst_exists")
        return token

    async def revoke(self, name: str) -> None:
        if not await self._revoke([keys.analyst(name), keys.ANALYSTS], [keys.analyst_token(""), name]):
            raise NotFound(f"no analyst {name}", code="analyst_not_found")

    async def authenticate(self, token: str) -> Analyst | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        # One round trip, and a write at most once a minute per analyst: "last used" to the minute.
        minute = self.clock_ms() // 60_000 * 60_000
        found = await self._authenticate([keys.analyst_token(self.keyring.token_digest(token)), keys.ANALYSTS],
                                         [keys.analyst(""), minute])
        return Analyst(found[0], found[1]) if found else None

    async def get(self, name: str) -> Analyst | None:
        role = await self.redis.hget(keys.analyst(name), "role")
        return Analyst(name, role) if role else None

    async def names(self) -> list[str]:
        return sorted(await self.redis.smembers(keys.ANALYSTS))

    async def listing(self) -> list[dict[str, Any]]:
        """Who has access, by name: role, created and last used (to the minute; None if never).
        Never a token or its digest."""
        names = await self.names()
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.hmget(keys.analyst(name), ["role", "created_at", "last_used_at"])
        out = []
        for name, (role, created, used) in zip(names, await pipe.execute()):
            if role:  # a name whose account is gone is not someone with access
                out.append({"name": name, "role": role, "created": created, "last_used": iso(used)})
        return out
