"""Conversation state in Redis, and a cache of it in this process so that a turn costs one round trip.

Redis holds two keys per conversation (and the answers to recent inbounds), all under the hash tag `{c:<pseudonym>}` (one cluster slot):
`state`, "<revision>|<JSON>" with the idle TTL, and `seen`, a marker that outlives it so a reporter
coming back is told the conversation expired. The revision is random and new on every write, so it
names one write: a conversation forgotten or expired and begun again never reuses a revision an
older copy could still hold. A state without one (written before revisions) reads as revision "".

Each process keeps the states it wrote last (a bounded LRU). A turn computes from the cached state
without reading Redis, then commits with one script that writes only if the stored revision is still
the one it computed from. Otherwise another process served the conversation meanwhile, or it expired,
was forgotten or overwritten: the script answers with what is stored, and the engine computes the turn
again from that. A cached entry is trusted for less than the idle TTL (its clock starts before the
write is sent), so Redis never expires a state this process would still serve from memory. Nothing
with an effect outside the conversation runs before its commit succeeds: a report goes into the
state's outbox and is queued after the write (see Dialog.turn).

A channel whose provider redelivers (webhooks) gives each inbound its provider's message id; the
commit then keeps the turn's answer for a day under the id's digest, in the same script and slot,
and a second commit for the same inbound writes nothing and hands that answer back: however often
and however concurrently an inbound arrives, the conversation moves on once and answers the same.

Nothing in a state is a raw sender id, and free text in it is already redacted, in Redis and here.
"""

from __future__ import annotations

import random
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

from ..storage import keys
from ..storage.client import COMMAND_TIMEOUT_S, AutoPipeline, Client
from ..storage.scripts import Script, source

STATE_VERSION = 1
SEEN_TTL_S = 7 * 86400  # long enough to say "this expired" to someone who comes back within a week
CACHE_ENTRIES = 10_000  # about 1-5 KB each: tens of MB at most
_REVISION = re.compile(r"([0-9A-Fa-f]+)\|")  # the same pattern as the script's '^(%x+)|'

ANSWER_TTL_S = 86400  # a provider redelivering the same inbound within a day gets the same answer


@dataclass
class Loaded:
    state: dict[str, Any] | None
    seen_before: bool
    revision: str = ""  # the stored revision this state is a copy of ("": nothing, or nothing readable)


@dataclass(frozen=True)
class Answered:
    """The inbound was answered before (a redelivery): nothing was written; this was the answer."""

    answer: str  # JSON, as the turn that first took the inbound wrote it


@dataclass
class _Entry:
    revision: str
    body: bytes  # the state's JSON: parsed afresh for each turn, which mutates what it gets
    trusted_until: float  # time.monotonic()


class ConversationStore:
    def __init__(self, redis: Client, *, idle_ttl_s: int = 2 * 3600, cache_entries: int = CACHE_ENTRIES,
                 write_timeout_s: float = COMMAND_TIMEOUT_S) -> None:
        self.redis = redis
        self._writes = AutoPipeline(redis, timeout_s=write_timeout_s)  # concurrent turns' writes share a pipeline
        self.idle_ttl_s = idle_ttl_s
        self.cache_entries = cache_entries
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._commit = Script(redis, source(__package__, "commit.lua"))

    async def load(self, pseudonym: str) -> Loaded:
        """The state this process wrote last, if it is still young enough to trust; else Redis's."""
        entry = self._cache.get(pseudonym)
        if entry is not None:
            if time.monotonic() < entry.trusted_until:
                self._cache.move_to_end(pseudonym)
                # Redis may have moved on since: the turn's conditional write finds out.
                return Loaded(orjson.loads(entry.body), True, entry.revision)
            del self._cache[pseudonym]
        return await self.read(pseudonym)

    async def read(self, pseudonym: str) -> Loaded:
        """The state as Redis has it now: one MGET."""
        raw, seen = await self.redis.mget([keys.conversation(pseudonym), keys.conversation_seen(pseudonym)])
        return _parse(raw, seen is not None)

    async def commit(self, pseudonym: str, loaded: Loaded, state: dict[str, Any] | None, *,
                     answer: tuple[str, bytes] | None = None) -> Loaded | Answered | None:
        """Write `state` if Redis still holds the revision `loaded` was read at; None forgets the
        conversation (`stop`: nothing is kept, not even that it happened, here or in Redis). None when
        done; otherwise what Redis holds, to compute the turn again from.

        `answer`, (the inbound's digest, the turn as JSON), is kept with the write for a day; when one
        is kept already, nothing is written and `Answered` hands it back."""
        return await self._write(pseudonym, loaded.revision, state, answer)

    async def save(self, pseudonym: str, state: dict[str, Any]) -> None:
        """Write `state` whatever Redis holds (a conversation begun, or begun again)."""
        await self._write(pseudonym, "*", state, None)

    async def _write(self, pseudonym: str, expected: str, state: dict[str, Any] | None,
                     answer: tuple[str, bytes] | None) -> Loaded | Answered | None:
        revision = _new_revision() if state is not None else ""
        body = _dump(state) if state is not None else b""
        trusted_until = time.monotonic() + self.idle_ttl_s  # before sending: Redis's TTL starts later
        digest, turn = answer if answer is not None else ("-", b"")
        names = [keys.conversation(pseudonym), keys.conversation_seen(pseudonym),
                 keys.conversation_answered(pseudonym, digest)]
        values: list[Any] = [expected, revision, body, self.idle_ttl_s, SEEN_TTL_S, turn, ANSWER_TTL_S]
        reply = await self._commit(names, values, via=self._writes)
        if int(reply[0]) == 2:
            return Answered(reply[1])
        if int(reply[0]) != 1:
            self._cache.pop(pseudonym, None)
            return _parse(reply[1], bool(reply[2]))
        if state is None:
            self._cache.pop(pseudonym, None)
        else:
            self._remember(pseudonym, _Entry(revision, body, trusted_until))
        return None

    async def aclose(self) -> None:
        await self._writes.aclose()

    def _remember(self, pseudonym: str, entry: _Entry) -> None:
        self._cache[pseudonym] = entry
        self._cache.move_to_end(pseudonym)
        while len(self._cache) > self.cache_entries:
            self._cache.popitem(last=False)


def _new_revision() -> str:
    """Names one write, so it must not repeat, but need not be secret: the random module (reseeded
    in a forked child) rather than the operating system's generator, a system call per turn."""
    return f"{random.getrandbits(64):016x}"


def _dump(state: dict[str, Any]) -> bytes:
    state["v"] = STATE_VERSION
    return orjson.dumps(state)


def _parse(raw: str | None, seen: bool) -> Loaded:
    """A stored value as the commit script reads it: revision "" unless it starts with one."""
    if raw is None:
        return Loaded(None, seen)
    match = _REVISION.match(raw)
    revision, body = (match.group(1), raw[match.end():]) if match else ("", raw)
    try:
        state = orjson.loads(body)
    except orjson.JSONDecodeError:  # a corrupt state starts over rather than failing every turn
        state = None
    if not isinstance(state, dict) or state.get("v") != STATE_VERSION:
        state = None
    return Loaded(state, seen, revision)
