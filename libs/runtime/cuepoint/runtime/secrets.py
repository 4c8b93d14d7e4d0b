"""Secrets at rest (signing keys, AI provider API keys): AES-256-GCM under a master key.

The master key comes from ``CUEPOINT_SECRET_KEY`` (32 bytes, urlsafe base64). Each
ciphertext carries its own random nonce and is bound to a purpose (associated data),
so a value encrypted as one thing cannot be decrypted as another.
"""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

LOCAL_DEVELOPMENT_KEY = base64.urlsafe_b64encode(b"cuepoint-local-development-key!!").decode()
"""Used when no key is configured; fine on a laptop, never in production (services warn)."""


class SecretBox:
    def __init__(self, master_key_b64: str) -> None:
        key = base64.urlsafe_b64decode(master_key_b64)
        if len(key) != 32:
            raise ValueError("CUEPOINT_SECRET_KEY must be 32 bytes, urlsafe base64-encoded")
        self._aead = AESGCM(key)

    def encrypt(self, plaintext: bytes, *, purpose: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext, purpose.encode())
        return "v1." + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, *, purpose: str) -> bytes:
        version, _, body = token.partition(".")
        if version != "v1":
            raise ValueError(f"unknown secret format {version!r}")
        raw = base64.urlsafe_b64decode(body)
        return self._aead.decrypt(raw[:12], raw[12:], purpose.encode())

    @staticmethod
    def generate_key() -> str:
        return base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode()
