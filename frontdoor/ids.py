"""Identifiers: sortable ids for reports and cases, and receipt codes a person can read out.

Report and case ids are ULIDs (time-sortable) with the queue shard appended, so any
id names the Redis hash slot that holds it without a look-up table.
"""

from __future__ import annotations

import os
import re
import secrets
import time

# Crockford's base32: no I, L, O or U, so a code survives being read out on the phone.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
RECEIPT_CHARS = 10  # 50 bits: unguessable at any rate limit a hotline would run
_ID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}-[0-9]{1,4}$")


def new_id(shard: int) -> str:
    return f"{new_ulid()}-{shard}"


_last_ulid = [0, 0]  # the last ULID's milliseconds and randomness, for monotonic ids within a millisecond


def new_ulid() -> str:
    """A ULID string as python-ulid makes one (48-bit milliseconds, 80 random bits; within one
    millisecond each id the last one plus one), in a fifth of its time: a submit mints two.
    tests/test_ids.py reads ours back with python-ulid."""
    ms = time.time_ns() // 1_000_000
    last_ms, last_random = _last_ulid
    if ms <= last_ms and last_random < (1 << 80) - 1:
        ms, random = last_ms, last_random + 1
    else:
        random = int.from_bytes(os.urandom(10), "big")
    _last_ulid[0], _last_ulid[1] = ms, random
    value = (ms << 80) | random  # 128 bits: one character for the top 3, then 12 pairs and one more
    return _CROCKFORD[value >> 125] + "".join([_PAIRS[(value >> shift) & 1023] for shift in range(115, 0, -10)]) \
        + _CROCKFORD[value & 31]


def shard_of(item_id: str) -> int:
    """The shard an id was minted for; raises ValueError for anything that is not one of ours."""
    if not _ID_RE.match(item_id):
        raise ValueError("not a frontdoor id")
    return int(item_id.rsplit("-", 1)[1])


def is_id(item_id: str) -> bool:
    return bool(_ID_RE.match(item_id))


_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]  # every 10-bit value as two characters


def new_receipt() -> str:
    # One draw of 50 random bits, ten per pair of characters (ten secrets.choice calls cost ten times more).
    bits = secrets.randbits(5 * RECEIPT_CHARS)
    code = "".join([_PAIRS[(bits >> shift) & 1023] for shift in range(5 * RECEIPT_CHARS - 10, -10, -10)])
    return f"{code[:5]}-{code[5:]}"


def canonical_receipt(text: str) -> str | None:
    """Accept what a reporter types (any case, spaces, dashes, O for 0) or None if it cannot be a code."""
    cleaned = re.sub(r"[\s\-]", "", text).upper().translate(_CONFUSABLE)
    if len(cleaned) != RECEIPT_CHARS or any(c not in _CROCKFORD for c in cleaned):
        return None
    return f"{cleaned[:5]}-{cleaned[5:]}"
