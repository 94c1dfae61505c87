"""ids: receipt codes a person can read out, drawn uniformly from their whole space."""

from __future__ import annotations

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
