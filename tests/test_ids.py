"""ids: receipt codes a person can read out, drawn uniformly from their whole space; ULIDs made by python-ulid."""

from __future__ import annotations

import time

import pytest
from ulid import ULID, LaxMonotonicPolicy, ULIDGenerator

from frontdoor import ids


def test_receipts_are_canonical_and_use_every_character_in_every_position() -> None:
    codes = [ids.new_receipt() for _ in range(3000)]
    assert all(len(c) == 11 and c[5] == "-" and ids.canonical_receipt(c) == c for c in codes)
    for position in (0, 1, 2, 3, 4, 6, 7, 8, 9, 10):
        # 3000 draws miss one of the 32 characters in a position with probability ~32 * e^-94.
        assert {c[position] for c in codes} == set(ids._CROCKFORD), position
    assert len(set(codes)) == len(codes)


def test_ids_name_their_shard() -> None:
    assert ids.shard_of(ids.new_id(7)) == 7 and ids.is_id(ids.new_id(0)) and not ids.is_id("x-1")


def test_ulids_read_back_with_python_ulid_and_sort_in_the_order_they_were_made() -> None:
    before = time.time_ns() // 1_000_000
    made = [ids.new_ulid() for _ in range(2000)]
    after = time.time_ns() // 1_000_000
    parsed = [ULID.from_str(u) for u in made]
    assert all(str(p) == u for p, u in zip(parsed, made))  # canonical: python-ulid writes it back the same
    assert all(before <= p.milliseconds <= after for p in parsed)
    assert made == sorted(made) and len(set(made)) == len(made)  # monotonic, as python-ulid's own are
    assert len({u[10:] for u in made[:: 500]}) == 4  # the random part is random, not a counter from zero


def test_a_ulid_covers_all_128_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every character of the encoding takes values across its whole range over many ids: each id in a
    # millisecond of its own (a clock that ticks once per call), so each draws fresh randomness.
    ticks = iter(range(time.time_ns() // 1_000_000, 1 << 48))
    monkeypatch.setattr(ids, "_generator", ULIDGenerator(clock=lambda: next(ticks), policy=LaxMonotonicPolicy()))
    made = [ids.new_ulid() for _ in range(3000)]
    assert [str(ULID.from_str(u)) for u in made] == made
    assert {u[0] for u in made} <= set("01234567")
    for position in range(10, 26):  # the 80 random bits: characters 10 to 25 (character 10 holds 5 of them)
        assert len({u[position] for u in made}) == 32, position


def test_ulids_stay_in_order_when_the_clock_steps_back(monkeypatch: pytest.MonkeyPatch) -> None:
    first = ids.new_ulid()
    now = time.time_ns()
    monkeypatch.setattr(time, "time_ns", lambda: now - 5_000_000_000)  # NTP moves the clock 5 s back
    later = [ids.new_ulid() for _ in range(100)]
    assert [first, *later] == sorted([first, *later]) and len(set(later)) == 100
    assert ULID.from_str(later[-1]).milliseconds >= ULID.from_str(first).milliseconds
