"""Conversation state in Redis: one JSON document per conversation with an idle TTL.

A turn costs two round trips: one MGET to load (state and the seen-marker), one pipeline to
save both. Nothing in a state is a raw sender id, and free text in it is already redacted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..queue import keys
from ..redis_client import Client

STATE_VERSION = 1
SEEN_TTL_S = 7 * 86400  # long enough to say "this expired" to someone who comes back within a week


@dataclass
class Loaded:
    state: dict[str, Any] | None
    seen_before: bool


class ConversationStore:
    def __init__(self, redis: Client, *, idle_ttl_s: int = 2 * 3600) -> None:
        self.redis = redis
        self.idle_ttl_s = idle_ttl_s

    async def load(self, pseudonym: str) -> Loaded:
        raw, seen = await self.redis.mget([keys.conversation(pseudonym), keys.conversation_seen(pseudonym)])
        state = None
        if raw is not None:
            try:
                state = json.loads(raw)
            except json.JSONDecodeError:  # a corrupt state starts over rather than failing every turn
                state = None
            if not isinstance(state, dict) or state.get("v") != STATE_VERSION:
                state = None
        return Loaded(state, seen is not None)

    async def save(self, pseudonym: str, state: dict[str, Any]) -> None:
        state["v"] = STATE_VERSION
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(keys.conversation(pseudonym), json.dumps(state, separators=(",", ":"), ensure_ascii=False), ex=self.idle_ttl_s)
        pipe.set(keys.conversation_seen(pseudonym), "1", ex=SEEN_TTL_S)
        await pipe.execute()

    async def forget(self, pseudonym: str) -> None:
        """`stop`: nothing of the conversation is kept, not even that it happened."""
        await self.redis.delete(keys.conversation(pseudonym), keys.conversation_seen(pseudonym))
