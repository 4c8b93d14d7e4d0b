"""Secrets and sensitive fields at rest: AES-256-GCM under a keyring of master keys.

The current master key comes from ``CUEPOINT_SECRET_KEY`` (32 bytes, urlsafe base64); keys it
replaced stay readable from ``CUEPOINT_PREVIOUS_SECRET_KEYS`` (comma-separated) until a service's
``rotate-secrets`` command has re-encrypted everything under the current one (README "Rotating
the secret key"). Each ciphertext carries its own random nonce and is bound to a purpose
(associated data), so a value encrypted as one thing cannot be decrypted as another.

Tokens: ``v2.<key id>.<nonce + ciphertext, urlsafe base64>``, the key id a short hash of the key
(never the key), so decryption picks its key directly; ``v1.<…>`` (before keys had ids, always
under what was then ``CUEPOINT_SECRET_KEY``) are still read, trying the current key, then the
previous ones.

A blind index (:meth:`Keyring.blind_index`) makes an encrypted field searchable for equality: an
HMAC-SHA256 of the (normalised) value under a key derived from a master key for that purpose. It
tells whoever holds the table only which rows are equal, never the value, and cannot be computed
without the master key (unlike a plain hash of an email address, which a dictionary reverses).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

LOCAL_DEVELOPMENT_KEY = base64.urlsafe_b64encode(b"cuepoint-local-development-key!!").decode()
"""Used when no key is configured; fine on a laptop, never in production (services warn)."""


class SecretError(ValueError):
    """A token this keyring cannot open: malformed, under a key it does not hold, or tampered with
    (or sealed for another purpose)."""


def _decode_key(master_key_b64: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(master_key_b64.strip())
    except (binascii.Error, ValueError) as error:
        raise ValueError("CUEPOINT_SECRET_KEY must be 32 bytes, urlsafe base64-encoded") from error
    if len(key) != 32:
        raise ValueError("CUEPOINT_SECRET_KEY must be 32 bytes, urlsafe base64-encoded")
    return key


def key_id(key: bytes) -> str:
    """A short public name of a master key: 8 hex digits of a (domain-separated) SHA-256 of it."""
    return hashlib.sha256(b"cuepoint.key-id\x00" + key).hexdigest()[:8]


class _Key:
    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.id = key_id(raw)
        self.aead = AESGCM(raw)

    def derived(self, purpose: str) -> bytes:
        return hmac.new(self.raw, b"cuepoint.derived\x00" + purpose.encode(), hashlib.sha256).digest()


class Keyring:
    """The current master key (which seals) and the previous ones (which only open)."""

    def __init__(self, current_b64: str, previous_b64: Iterable[str] | str = ()) -> None:
        if isinstance(previous_b64, str):
            previous_b64 = parse_key_list(previous_b64)
        self.current = _Key(_decode_key(current_b64))
        self.previous = [_Key(_decode_key(k)) for k in previous_b64]
        self.previous = [k for k in self.previous if k.id != self.current.id]
        self._by_id = {k.id: k for k in [*reversed(self.previous), self.current]}

    @classmethod
    def from_settings(cls, settings: object) -> Keyring:
        """From a service's ``secret_key`` and ``previous_secret_keys`` settings (SecretStr)."""
        current = settings.secret_key.get_secret_value()  # type: ignore[attr-defined]
        previous = getattr(settings, "previous_secret_keys", None)
        return cls(current, previous.get_secret_value() if previous is not None else ())

    @property
    def current_id(self) -> str:
        return self.current.id

    @property
    def keys(self) -> list[_Key]:
        """The current key first, then the previous ones."""
        return [self.current, *self.previous]

    # --- encryption ---------------------------------------------------------------------

    def encrypt(self, plaintext: bytes, *, purpose: str) -> str:
        nonce = os.urandom(12)
        sealed = self.current.aead.encrypt(nonce, plaintext, purpose.encode())
        return f"v2.{self.current.id}." + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, *, purpose: str) -> bytes:
        version, _, rest = token.partition(".")
        if version == "v2":
            kid, _, body = rest.partition(".")
            key = self._by_id.get(kid)
            if key is None:
                raise SecretError(f"sealed under key {kid!r}, which is neither CUEPOINT_SECRET_KEY nor one of "
                                  "CUEPOINT_PREVIOUS_SECRET_KEYS")
            candidates = [key]
        elif version == "v1":
            body, candidates = rest, self.keys
        else:
            raise SecretError(f"unknown secret format {version!r}")
        try:
            raw = base64.urlsafe_b64decode(body)
        except (binascii.Error, ValueError) as error:
            raise SecretError("malformed secret") from error
        for key in candidates:
            try:
                return key.aead.decrypt(raw[:12], raw[12:], purpose.encode())
            except InvalidTag:
                continue
        raise SecretError("the secret does not open with the configured keys (wrong key, another purpose, "
                          "or tampered with)")

    def encrypt_text(self, value: str | None, *, purpose: str) -> str | None:
        return None if value is None else self.encrypt(value.encode(), purpose=purpose)

    def decrypt_text(self, token: str | None, *, purpose: str) -> str | None:
        return None if token is None else self.decrypt(token, purpose=purpose).decode()

    def is_current(self, token: str | None) -> bool:
        """Whether the token is sealed under the current key (a rotation leaves it as it is)."""
        return token is None or token.startswith(self.current_prefix)

    @property
    def current_prefix(self) -> str:
        """What every token sealed under the current key starts with (for SQL: ``NOT LIKE prefix || '%'``)."""
        return f"v2.{self.current.id}."

    def reencrypt(self, token: str | None, *, purpose: str) -> str | None:
        """The token sealed under the current key (itself if it already is)."""
        if self.is_current(token):
            return token
        return self.encrypt(self.decrypt(token, purpose=purpose), purpose=purpose)  # type: ignore[arg-type]

    # --- derived keys and blind indexes -------------------------------------------------------

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose``, derived from the current master key."""
        return self.current.derived(purpose)

    def blind_index(self, value: str, *, purpose: str) -> bytes:
        """HMAC-SHA256 of ``value`` (normalise it first) under the current key's key for ``purpose``."""
        return hmac.new(self.current.derived("blind-index:" + purpose), value.encode(), hashlib.sha256).digest()

    def blind_indexes(self, value: str, *, purpose: str) -> list[bytes]:
        """The value's index under every key, current first: what a lookup matches while rows written
        under a previous key have not been rotated yet."""
        return [hmac.new(k.derived("blind-index:" + purpose), value.encode(), hashlib.sha256).digest()
                for k in self.keys]

    @staticmethod
    def generate_key() -> str:
        return base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode()


SecretBox = Keyring
"""The name the keyring had when it held one key (signing keys, AI provider keys use it)."""


def parse_key_list(value: str | None) -> list[str]:
    """``CUEPOINT_PREVIOUS_SECRET_KEYS``: comma-separated keys, blanks ignored."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]
