"""The outbox in Redis: one stream per channel, read through one consumer group, and dead letters.

A message is put (XADD, the recipient encrypted) by whatever decided to send it, and taken by a
sender (XREADGROUP) in any process. It stays in its stream's pending list until the provider took
it (then XACK and XDEL) or it is buried in the dead-letter stream with the reason. A sender that
dies mid-send leaves its messages pending; so does a failed attempt: a pending message is taken
again once it has been idle for its backoff, which doubles with each delivery Redis counted
(XPENDING's delivery count is the attempt number, kept by Redis, not by us). After the last
attempt it is buried. Nothing is held in a process's memory between attempts.

Every entry carries its expiry: streams are trimmed past the TTL on every put (MINID) and a sender
drops an entry it finds expired, so no recipient stays in Redis longer than the TTL, delivered or not.
Dead letters are trimmed the same way, counted from when they died.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ..keyring import Keyring
from ..settings import OutboxSettings
from ..storage import keys
from ..storage.client import Client
from ..storage.groups import create_group, regrouping
from ..storage.scripts import Script, source

log = logging.getLogger(__name__)
NO_ONCE = keys.outbox_once("-")  # a key of the slot to declare when a put has no once-marker


@dataclass(frozen=True)
class Outbound:
    """One message to send: what a channel's `deliver` gets."""

    id: str  # the stream entry's id: the same on every attempt (a provider's idempotency key, a Message-ID)
    channel: str
    recipient: str  # decrypted for this attempt only; never logged
    body: dict[str, Any]  # what the channel put, as JSON
    attempt: int  # 1 for the first


@dataclass(frozen=True)
class DeadLetter:
    id: str
    channel: str
    attempts: int
    reason: str
    died_ms: int
    expires_ms: int


class Outbox:
    def __init__(self, redis: Client, keyring: Keyring, settings: OutboxSettings, channels: Iterable[str], *,
                 clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self._redis = redis
        self.channels = tuple(channels)  # every channel the app knows, whether or not it delivers here
        self._keyring = keyring
        self.settings = settings
        self._clock_ms = clock_ms
        self._put = Script(redis, source(__package__, "put.lua"))
        self._done = Script(redis, source(__package__, "done.lua"))
        self._bury = Script(redis, source(__package__, "bury.lua"))
        self._revive = Script(redis, source(__package__, "revive.lua"))

    async def setup(self, channels: Iterable[str] | None = None) -> None:
        """The consumer group on each channel's stream; safe at every start (and after Redis lost them)."""
        for channel in self.channels if channels is None else channels:
            await create_group(self._redis, keys.outbox_stream(channel), keys.OUTBOX_GROUP)

    async def adopt_legacy_jobs(self) -> int:
        """Move e-mail auto-replies left by the version before the stream (a sorted set of due job ids,
        a key per job with the recipient already encrypted) into the e-mail stream, keeping their TTL."""
        adopted = 0
        for job_id in await self._redis.zrange(keys.LEGACY_OUTBOX_DUE, 0, 99):
            name = keys.legacy_outbox_job(job_id)
            raw, ttl_ms = await self._redis.get(name), await self._redis.pttl(name)
            if raw is not None and ttl_ms > 0:
                job = orjson.loads(raw)
                body = {k: v for k, v in job.items() if k not in ("to", "attempts")}
                now = self._clock_ms()
                await self._redis.xadd(keys.outbox_stream("email"), {
                    "channel": "email", "to": job["to"], "expires": now + ttl_ms, "body": orjson.dumps(body)})
                adopted += 1
            await self._redis.delete(name)
            await self._redis.zrem(keys.LEGACY_OUTBOX_DUE, job_id)
        if adopted:
            log.info("outbox: %d auto-replies of the previous version moved into the stream", adopted)
        return adopted

    # -- in ---------------------------------------------------------------------------

    async def put(self, channel: str, recipient: str, bodies: Sequence[Mapping[str, Any]], *,
                  once: str | None = None, once_ttl_s: int = 86400) -> list[str]:
        """Queue messages to one recipient, in this order; their entry ids. With `once`, a key the
        channel chose (never an address), messages put under it within `once_ttl_s` are not put again:
        the answer to a redelivered inbound, at most one e-mail reply an hour. [] when skipped so."""
        if not bodies:
            return []
        now = self._clock_ms()
        args: list[Any] = ["1" if once else "0", once_ttl_s, self.settings.ttl_s * 1000, channel,
                           self._keyring.encrypt(recipient), now + self.settings.ttl_s * 1000]
        args += [orjson.dumps(body) for body in bodies]
        ids = await self._put([keys.outbox_stream(channel), keys.outbox_once(once) if once else NO_ONCE], args)
        return [str(i) for i in ids]

    # -- out: what the sender calls -------------------------------------------------------

    async def take(self, channels: Sequence[str], consumer: str, *, count: int, block_ms: int) -> list[Outbound]:
        """Messages for this consumer to send now: those due for another attempt first, then new ones
        (waiting up to `block_ms` for one). Expired ones are dropped on the way; a message whose
        attempts are used up (its sender died during the last) is buried. Lost consumer groups are
        made again on the way (storage/groups.py)."""
        return await regrouping(lambda: self._take(channels, consumer, count, block_ms), lambda: self.setup(channels),
                                "outbox")

    async def _take(self, channels: Sequence[str], consumer: str, count: int, block_ms: int) -> list[Outbound]:
        taken = await self._due_again(channels, consumer, count)
        if len(taken) < count:
            streams: dict[Any, Any] = {keys.outbox_stream(c): ">" for c in channels}
            # BLOCK 0 would wait for ever: no wait is no BLOCK at all.
            wait = block_ms if block_ms > 0 and not taken else None
            replies = await self._redis.xreadgroup(keys.OUTBOX_GROUP, consumer, streams, count=count - len(taken),
                                                   block=wait)
            for stream, entries in replies or []:
                channel = _channel_of(stream)
                taken += [m for m in [await self._entry(channel, i, f, 1) for i, f in entries] if m]
        return taken

    async def done(self, message: Outbound) -> None:
        await self._done([keys.outbox_stream(message.channel)], [keys.OUTBOX_GROUP, message.id])

    def backoff_ms(self, attempt: int) -> int:
        """How long a message stays untouched after its `attempt`-th delivery failed or was cut short."""
        s = self.settings
        return int(min(s.first_retry_s * 2 ** (attempt - 1), s.max_retry_s) * 1000)

    async def failed(self, message: Outbound, reason: str) -> bool:
        """An attempt failed: it stays pending for its backoff, or is buried after the last. True if buried."""
        if message.attempt < self.settings.max_attempts:
            return False
        await self.bury(message.channel, message.id, message.attempt, f"gave up after {message.attempt} attempts: {reason}")
        return True

    async def bury(self, channel: str, entry_id: str, attempts: int, reason: str) -> None:
        now = self._clock_ms()
        await self._bury([keys.outbox_stream(channel), keys.OUTBOX_DEAD],
                         [keys.OUTBOX_GROUP, entry_id, attempts, reason[:200], now, self.settings.ttl_s * 1000])
        log.warning("outbox: a %s message moved to the dead letters (%s)", channel, reason[:200])

    # -- looking at it: the CLI and the statistics -----------------------------------------

    async def counts(self) -> dict[str, int]:
        """Messages waiting to be sent (new or between attempts), and dead letters."""
        pipe = self._redis.pipeline(transaction=False)
        for channel in self.channels:
            pipe.xlen(keys.outbox_stream(channel))
        pipe.xlen(keys.OUTBOX_DEAD)
        replies = await pipe.execute()
        return {"waiting": sum(int(r) for r in replies[:-1]), "dead_letters": int(replies[-1])}

    async def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        entries = await self._redis.xrange(keys.OUTBOX_DEAD, count=limit)
        return [DeadLetter(i, f.get("channel", "?"), int(f.get("attempts", 0)), f.get("reason", ""),
                           int(f.get("died", 0)), int(f.get("expires", 0))) for i, f in entries]

    async def retry(self, dead_id: str) -> str:
        """A dead letter back into its channel's stream, its attempts anew; 'gone' or 'expired' otherwise."""
        found = await self._redis.xrange(keys.OUTBOX_DEAD, dead_id, dead_id)
        if not found:
            return "gone"
        channel = found[0][1].get("channel", "")
        await self.setup([channel])
        result = await self._revive([keys.OUTBOX_DEAD, keys.outbox_stream(channel)], [dead_id, self._clock_ms()])
        return "gone" if result is None else str(result)

    async def drop(self, dead_id: str) -> bool:
        return bool(await self._redis.xdel(keys.OUTBOX_DEAD, dead_id))

    async def trim(self) -> None:
        """What is past its TTL out of every stream (puts trim too; this covers quiet days). Entry ids
        are Redis's clock, so the cut is made by Redis's clock too."""
        seconds, micros = await self._redis.time()
        oldest = f"{seconds * 1000 + micros // 1000 - self.settings.ttl_s * 1000}-0"
        pipe = self._redis.pipeline(transaction=False)
        for stream in [*(keys.outbox_stream(c) for c in self.channels), keys.OUTBOX_DEAD]:
            pipe.xtrim(stream, minid=oldest, approximate=False)
        await pipe.execute()

    # -- pieces -------------------------------------------------------------------------

    async def _due_again(self, channels: Sequence[str], consumer: str, count: int) -> list[Outbound]:
        """Pending messages idle for at least their backoff: failed, or their sender died."""
        taken: list[Outbound] = []
        shortest = self.backoff_ms(1)
        for channel in channels:
            stream = keys.outbox_stream(channel)
            pending = await self._redis.xpending_range(stream, keys.OUTBOX_GROUP, min="-", max="+", count=count,
                                                       idle=shortest)
            for item in pending:
                entry_id, attempts = item["message_id"], int(item["times_delivered"])
                if item["time_since_delivered"] < self.backoff_ms(attempts):
                    continue
                if attempts >= self.settings.max_attempts:
                    await self.bury(channel, entry_id, attempts, f"gave up after {attempts} attempts: the last was cut short")
                    continue
                # XCLAIM only if still idle that long: of two senders, one gets it.
                claimed = await self._redis.xclaim(stream, keys.OUTBOX_GROUP, consumer, self.backoff_ms(attempts),
                                                   [entry_id])
                for claimed_id, fields in claimed:
                    message = await self._entry(channel, claimed_id, fields, attempts + 1)
                    if message is not None:
                        taken.append(message)
                if not claimed and not await self._redis.xrange(stream, entry_id, entry_id):
                    # Trimmed away past its TTL while pending (Redis 6.2 claims nothing for it): let it
                    # go. An entry that still exists was claimed by another sender first: it is theirs.
                    await self._redis.xack(stream, keys.OUTBOX_GROUP, entry_id)
                if len(taken) >= count:
                    return taken
        return taken

    async def _entry(self, channel: str, entry_id: str, fields: dict[str, str] | None, attempt: int) -> Outbound | None:
        """The message, or None when it is expired (dropped) or unreadable (buried)."""
        if not fields:  # trimmed past its TTL while pending
            await self._done([keys.outbox_stream(channel)], [keys.OUTBOX_GROUP, entry_id])
            return None
        if int(fields.get("expires", 0)) <= self._clock_ms():
            await self._done([keys.outbox_stream(channel)], [keys.OUTBOX_GROUP, entry_id])
            log.warning("outbox: a %s message expired before it could be sent; dropped", channel)
            return None
        recipient = self._keyring.decrypt(fields.get("to", ""))
        if recipient is None:
            await self.bury(channel, entry_id, attempt, "the recipient cannot be decrypted (was the secret key changed?)")
            return None
        try:
            body = orjson.loads(fields.get("body", ""))
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            await self.bury(channel, entry_id, attempt, "the message body is not a JSON object")
            return None
        return Outbound(entry_id, channel, recipient, body, attempt)


def _channel_of(stream: str) -> str:
    return stream.rsplit(":", 1)[1]
