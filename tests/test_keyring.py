"""The server secret and what is derived from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from frontdoor.errors import ConfigError
from frontdoor.keyring import Keyring, load_secret
from frontdoor.settings import Settings


def test_secret_is_generated_once_with_owner_only_permissions(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = load_secret(settings)
    assert len(first) == 64 and (tmp_path / "data" / "secret.key").stat().st_mode & 0o777 == 0o600
    assert load_secret(settings) == first
    assert load_secret(Settings(data_dir=tmp_path / "data", secret_key=b"k" * 32)) == b"k" * 32


def test_a_short_secret_file_stops_start_up(tmp_path: Path) -> None:
    (tmp_path / "secret.key").write_text("short\n")
    with pytest.raises(ConfigError):
        load_secret(Settings(data_dir=tmp_path))


def test_pseudonyms_are_keyed_stable_and_never_the_raw_id() -> None:
    a, b = Keyring(b"a" * 40), Keyring(b"b" * 40)
    sender = "+447700900123"
    assert a.pseudonym("sms", sender) == a.pseudonym("sms", sender)
    assert a.pseudonym("sms", sender) != b.pseudonym("sms", sender)  # a new key, new pseudonyms
    assert a.pseudonym("sms", sender) != a.pseudonym("whatsapp", sender)
    assert "7700900123" not in a.pseudonym("sms", sender)
    with pytest.raises(ValueError):
        a.pseudonym("sms", "")


def test_contact_encryption_round_trips_and_fails_closed() -> None:
    a, b = Keyring(b"a" * 40), Keyring(b"b" * 40)
    token = a.encrypt("someone@example.com")
    assert "someone" not in token and a.decrypt(token) == "someone@example.com"
    assert b.decrypt(token) is None
    assert a.token_digest("fdt_x") != b.token_digest("fdt_x") and "Keyring(<secret>)" == repr(a)
