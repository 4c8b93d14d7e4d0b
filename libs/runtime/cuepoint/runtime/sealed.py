"""Sealed boxes: data encrypted to a public key, that only the holder of its private key can open.

A person's data export (issue 16) travels from each service to identity through outboxes and a topic;
each service seals its part to the export's public key, and identity deletes the private key once it
has assembled the archive, so every copy left behind is unreadable from then on (crypto-shredding).

The scheme: an ephemeral X25519 key pair per message; the shared secret, through HKDF-SHA256 (salt:
the ephemeral and the recipient's public keys; info: this scheme's name), is an AES-256-GCM key; the
associated data binds a sealed message to what it was sealed for (``context``), so a part of one
export cannot be passed off as another's. Wire format: ``version (1) | ephemeral public key (32) |
nonce (12) | ciphertext and tag``.
"""

from __future__ import annotations

import base64
import gzip
import os
from typing import Any

import pydantic_core
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = b"\x01"
INFO = b"cuepoint.sealed.v1 x25519-hkdf-sha256-aes256gcm"
KEY_BYTES = 32
NONCE_BYTES = 12
CHUNK_CHARS = 256 * 1024
"""The longest chunk of a sealed message, in base64 characters (an event field)."""

_RAW = serialization.Encoding.Raw


class Unsealable(ValueError):
    """A sealed message that the key cannot open: another key, another context, or tampered with."""


def generate_key_pair() -> tuple[bytes, bytes]:
    """A new (private key, public key) pair, 32 raw bytes each."""
    private = X25519PrivateKey.generate()
    return (private.private_bytes(_RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption()),
            private.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw))


def _key(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral_public + recipient_public,
                info=INFO).derive(shared)


def seal(public_key: bytes, plaintext: bytes, *, context: bytes = b"") -> bytes:
    """``plaintext`` sealed to ``public_key`` (raw X25519), bound to ``context``."""
    if len(public_key) != KEY_BYTES:
        raise ValueError("an X25519 public key is 32 bytes")
    recipient = X25519PublicKey.from_public_bytes(public_key)
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
    key = _key(ephemeral.exchange(recipient), ephemeral_public, public_key)
    nonce = os.urandom(NONCE_BYTES)
    return VERSION + ephemeral_public + nonce + AESGCM(key).encrypt(nonce, plaintext, context)


def open_sealed(private_key: bytes, sealed: bytes, *, context: bytes = b"") -> bytes:
    """The plaintext of ``sealed``; raises Unsealable if this key or context does not open it."""
    header = 1 + KEY_BYTES + NONCE_BYTES
    if len(sealed) < header + 16 or sealed[:1] != VERSION:
        raise Unsealable("not a sealed message of this version")
    ephemeral_public, nonce = sealed[1:1 + KEY_BYTES], sealed[1 + KEY_BYTES:header]
    private = X25519PrivateKey.from_private_bytes(private_key)
    recipient_public = private.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
    key = _key(private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public)), ephemeral_public,
               recipient_public)
    try:
        return AESGCM(key).decrypt(nonce, sealed[header:], context)
    except InvalidTag as error:
        raise Unsealable("the key or context does not open this message, or it was altered") from error


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode())


def seal_document(public_key: bytes, document: Any, *, context: bytes = b"", chunk_chars: int = CHUNK_CHARS
                  ) -> list[str]:
    """``document`` as gzipped JSON (UUIDs, datetimes and decimals as strings), sealed, in base64 chunks
    of at most ``chunk_chars`` characters, in order."""
    sealed = b64(seal(public_key, gzip.compress(pydantic_core.to_json(document), mtime=0), context=context))
    return [sealed[i:i + chunk_chars] for i in range(0, len(sealed), chunk_chars)] or [""]


def open_document(private_key: bytes, chunks: list[str], *, context: bytes = b"") -> Any:
    """The document that ``seal_document`` sealed into ``chunks`` (in order)."""
    try:
        sealed = unb64("".join(chunks))
    except ValueError as error:
        raise Unsealable("not base64") from error
    return pydantic_core.from_json(gzip.decompress(open_sealed(private_key, sealed, context=context)))


def export_parts(model: type[Any], *, export_id: Any, user_id: Any, public_key: str, service: str,
                 document: Any) -> list[Any]:
    """A service's part of a person's data export (``document``) as the events that carry it: sealed
    to the export's public key (urlsafe base64, from identity.user.export_requested.v1), in chunks."""
    from cuepoint.contracts.privacy import seal_context

    chunks = seal_document(unb64(public_key), document, context=seal_context(export_id, service))
    return [model(export_id=export_id, user_id=user_id, service=service, chunk=index, chunks=len(chunks),
                  sealed=sealed) for index, sealed in enumerate(chunks)]
