"""The server secret and everything derived from it.

One secret (FRONTDOOR_SECRET_KEY, or data_dir/secret.key generated on first start)
is stretched into purpose-bound sub-keys, so a leak of one derived value (say a
pseudonym table) says nothing about another (the contact encryption key).
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import ConfigError
from .settings import Settings

SECRET_FILE = "secret.key"


def load_secret(settings: Settings) -> bytes:
    """The configured secret, else the one in the data directory, generated (mode 0600) when absent."""
    if settings.secret_key is not None:
        return settings.secret_key
    path = Path(settings.data_dir) / SECRET_FILE
    try:
        if path.exists():
            secret = path.read_bytes().strip()
            if len(secret) < 32:
                raise ConfigError(f"{path} holds a secret shorter than 32 characters; delete it or set FRONTDOOR_SECRET_KEY")
            return secret
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_hex(32).encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secret + b"\n")
        return secret
    except OSError as exc:
        raise ConfigError(f"FRONTDOOR_DATA_DIR: cannot read or create {path}: {exc.strerror}") from None


class Keyring:
    def __init__(self, secret: bytes) -> None:
        self._pseudonym_key = self._derive(secret, b"frontdoor pseudonyms v1")
        self._token_key = self._derive(secret, b"frontdoor analyst tokens v1")
        self._fernet = Fernet(base64.urlsafe_b64encode(self._derive(secret, b"frontdoor contact v1")))
        self._day_keys: dict[tuple[str, str], bytes] = {}

    def __repr__(self) -> str:
        return "Keyring(<secret>)"

    @staticmethod
    def _derive(secret: bytes, purpose: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)

    def pseudonym(self, *parts: str) -> str:
        """A keyed, stable stand-in for a sender id (or a client address): never reversible without the secret."""
        if not parts or any(not p for p in parts):
            raise ValueError("every part of a pseudonym must be non-empty")
        digest = hmac.digest(self._pseudonym_key, "\x1f".join(parts).encode(), "sha256")
        return digest[:20].hex()  # hex, not base32: the standard library's base32 is a Python loop

    def daily_pseudonym(self, purpose: str, value: str, day: str) -> str:
        """A pseudonym under a key that changes every day: yesterday's values cannot be linked to
        today's, so a rate-limit key says nothing about a client beyond one day."""
        digest = hmac.digest(self._day_key(purpose, day), value.encode(), "sha256")
        return digest[:15].hex()

    def _day_key(self, purpose: str, day: str) -> bytes:
        """Derived once per purpose and day (the rate limiter asks on every request); yesterday's is dropped."""
        key = self._day_keys.get((purpose, day))
        if key is None:
            if len(self._day_keys) >= 8:
                self._day_keys.clear()
            key = self._day_keys[(purpose, day)] = hmac.digest(self._pseudonym_key, f"{purpose}\x1f{day}".encode(), "sha256")
        return key

    def token_digest(self, token: str) -> str:
        """Analyst tokens are 256-bit random, so a keyed SHA-256 is the right hash: a slow
        password hash (argon2) would only add latency to every analyst request."""
        return hmac.digest(self._token_key, token.encode(), "sha256").hex()

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str | None:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            return None
