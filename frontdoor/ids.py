"""Identifiers: sortable ids for reports and cases, and receipt codes a person can read out.

Report and case ids are ULIDs (time-sortable; made by python-ulid, monotonic within a process:
ids made one after the other sort in that order) with the queue shard appended, so any
id names the Redis hash slot that holds it without a look-up table.
"""

from __future__ import annotations

import re
import secrets
import time

from ulid import LaxMonotonicPolicy, ULIDGenerator

# Crockford's base32: no I, L, O or U, so a code survives being read out on the phone.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
RECEIPT_CHARS = 10  # 50 bits: unguessable at any rate limit a hotline would run
# The code the reporter is shown as an example of the shape (letters and digits in both halves, as
# real codes mix them): one constant, filled into every locale's {example}. No report has it unless
# by a 1-in-2^50 draw, which would tell the guesser who tries it one coarse status.
RECEIPT_EXAMPLE = "DWD2P-TS8B2"
_ID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}-[0-9]{1,4}$")


def new_id(shard: int) -> str:
    return f"{new_ulid()}-{shard}"


def _clock_ms() -> int:
    """Wall-clock milliseconds that never step back: after a clock adjustment the ids carry on from
    the last millisecond used (the generator then adds one to the last randomness), so ids stay in the
    order they were made even when NTP moves the clock back."""
    ms = max(time.time_ns() // 1_000_000, _last_ms[0])
    _last_ms[0] = ms
    return ms


_last_ms = [0]
# python-ulid's own generator: 48-bit milliseconds and 80 random bits; within one millisecond each id is
# the last one plus one (monotonic, as the ULID spec suggests). Lax rather than the default strict policy:
# if the 80 bits ever ran out within a millisecond, draw fresh ones instead of raising in a submit.
_generator = ULIDGenerator(clock=_clock_ms, policy=LaxMonotonicPolicy())


def new_ulid() -> str:
    """A ULID string (26 characters of Crockford's base32), made by python-ulid; ids made one after
    the other in this process sort in the order they were made."""
    return str(_generator.generate())


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
