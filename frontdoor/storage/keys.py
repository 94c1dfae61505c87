"""Every Redis key frontdoor uses, in one place: the queue's, the analysts', the rate limits', the
conversations' and the outbox's.

Keys are named for ids, digests and keyed pseudonyms only: no URL, no report text and nothing about
a reporter (address, phone number, messaging id) ever appears in a key name. Each group of keys
shares a hash tag (`{sN}` for queue shard N, `{auth}`, `{c:<pseudonym>}`, `{outbox}`), so each Lua
script, and any multi-key command such as MGET, touches a single Redis Cluster slot.
"""

from __future__ import annotations

import hashlib

PREFIX = "fd"
GROUP = "analysts"  # the one consumer group every claimer reads the lanes through
LANES = ("urgent", "normal")  # served in this order
RELEASED = "~released"  # pseudo-consumer that holds released entries until the next claim


def url_digest(normalized_url: str) -> str:
    return hashlib.sha256(normalized_url.encode()).hexdigest()[:32]


def shard_for(value: str, shards: int) -> int:
    if shards == 1:
        return 0
    return int.from_bytes(hashlib.sha256(value.encode()).digest()[:8], "big") % shards


def tag(shard: int) -> str:
    """The shard's key prefix: `fd:{s0}:`. Everything a script derives from it stays in the slot."""
    return f"{PREFIX}:{{s{shard}}}:"


def lane(shard: int, name: str) -> str:
    return f"{tag(shard)}lane:{name}"


def case(shard: int, case_id: str) -> str:
    return f"{tag(shard)}case:{case_id}"


def case_reports(shard: int, case_id: str) -> str:
    return f"{tag(shard)}case:{case_id}:reports"


def case_audit(shard: int, case_id: str) -> str:
    return f"{tag(shard)}case:{case_id}:audit"


def report(shard: int, report_id: str) -> str:
    return f"{tag(shard)}report:{report_id}"


def report_cases(shard: int, report_id: str) -> str:
    """The report's case ids, space-separated: apart from the JSON document so that neither
    needs rewriting when a multi-shard report's fan-out completes."""
    return f"{tag(shard)}report:{report_id}:cases"


def case_index(shard: int, status: str) -> str:
    """ZSET (every score 0) of the shard's cases in `status`, members `<created ms, 13 digits>:<case id>`:
    lexicographic order is creation order. The scripts move a case between them as its status changes
    (scripts.lua `set_status`); the listing (queue/listing.py) reads them."""
    return f"{tag(shard)}cases:{status}"


def case_index_built(shard: int) -> str:
    """Set once the shard's cases from before the index are in it (TriageQueue.setup)."""
    return f"{tag(shard)}cases:indexed"


def receipt(shard: int, code: str) -> str:
    return f"{tag(shard)}receipt:{code}"


def url_index(shard: int) -> str:
    """HASH url digest -> the latest case for that URL (open or closed; closed ones link forward)."""
    return f"{tag(shard)}urls"


def stats(shard: int, day: str) -> str:
    return f"{tag(shard)}stats:{day}"


def timing(shard: int, metric: str, day: str) -> str:
    return f"{tag(shard)}timing:{metric}:{day}"


def stats_days(shard: int) -> str:
    """SET of days that have counters, so statistics never need SCAN."""
    return f"{tag(shard)}stats:days"


def retention(shard: int) -> str:
    """ZSET of `r:<report>` / `c:<case>` scored by when their free text may be erased."""
    return f"{tag(shard)}retention"


def fanout(shard: int) -> str:
    """ZSET of reports whose URLs span shards and whose other shards are not yet confirmed."""
    return f"{tag(shard)}fanout"


def submitted(shard: int, dedupe_id: str) -> str:
    """The report a channel's dedupe id (e-mail: a keyed hash of the Message-ID, never the id)
    was made into, set by the submit script with the report and expiring after the channel's TTL."""
    return f"{tag(shard)}submitted:{dedupe_id}"


def applied(shard: int, report_id: str) -> str:
    """Idempotency marker for a report's fan-out into this shard (expires after a week)."""
    return f"{tag(shard)}applied:{report_id}"


# Analysts live in their own slot: they are few and every look-up is one key.
AUTH_TAG = f"{PREFIX}:{{auth}}:"


def analyst(name: str) -> str:
    return f"{AUTH_TAG}analyst:{name}"


def analyst_token(digest: str) -> str:
    return f"{AUTH_TAG}token:{digest}"


ANALYSTS = f"{AUTH_TAG}analysts"


def rate(client: str, kind: str, minute: int) -> str:
    """A client's request count in one minute; `client` is a daily-rotating pseudonym of its address."""
    return f"{PREFIX}:{{rl:{client}}}:{kind}:{minute}"


def pace(kind: str) -> str:
    """When the next request of `kind`, of all clients together, may be answered (http/pace.py)."""
    return f"{PREFIX}:{{pace:{kind}}}"


# Dialog conversations, keyed by a pseudonym (an HMAC of channel and sender id), never the id.
# Both keys of a conversation share one tag so a turn reads them with one MGET, in one slot.
def conversation(pseudonym: str) -> str:
    return f"{PREFIX}:{{c:{pseudonym}}}:state"


def conversation_seen(pseudonym: str) -> str:
    """An empty marker that outlives the state, so a reporter coming back after the idle TTL
    is told the conversation expired instead of being greeted as if new."""
    return f"{PREFIX}:{{c:{pseudonym}}}:seen"


def conversation_answered(pseudonym: str, inbound_digest: str) -> str:
    """The turn an inbound (a provider's message id, digested) was answered with, for a day: a
    redelivered message is answered the same again and moves the conversation on only once."""
    return f"{PREFIX}:{{c:{pseudonym}}}:answered:{inbound_digest}"


# The outbox (frontdoor/outbox): one stream per channel and one of dead letters, all in one slot so
# that moving an entry between them is one script. Entries hold the recipient only encrypted.
OUTBOX_TAG = f"{PREFIX}:{{outbox}}:"
OUTBOX_GROUP = "senders"  # every process's sender reads through this one consumer group
OUTBOX_DEAD = f"{OUTBOX_TAG}dead"


def outbox_stream(channel: str) -> str:
    return f"{OUTBOX_TAG}stream:{channel}"


def outbox_once(key: str) -> str:
    """These messages were put already (a redelivered inbound's reply; an e-mail sender answered this
    hour): `key` is a pseudonym or digest chosen by the channel, never an address."""
    return f"{OUTBOX_TAG}once:{key}"


# Before the outbox was a stream, e-mail auto-replies waited as jobs in a sorted set; Outbox.setup
# moves any still there into the stream once.
LEGACY_OUTBOX_DUE = f"{OUTBOX_TAG}due"


def legacy_outbox_job(job_id: str) -> str:
    return f"{OUTBOX_TAG}job:{job_id}"
