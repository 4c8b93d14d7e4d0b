"""The keyring: tokens name their key, older keys still open what they sealed, nothing else does."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cuepoint.runtime.secrets import Keyring, SecretError, key_id

OLD = Keyring.generate_key()
NEW = Keyring.generate_key()


def v1_token(key_b64: str, plaintext: bytes, purpose: str) -> str:
    """A token as the one-key SecretBox wrote them before keys had ids."""
    nonce = os.urandom(12)
    sealed = AESGCM(base64.urlsafe_b64decode(key_b64)).encrypt(nonce, plaintext, purpose.encode())
    return "v1." + base64.urlsafe_b64encode(nonce + sealed).decode()


def test_a_token_names_its_key_by_a_short_hash_never_the_key() -> None:
    ring = Keyring(NEW)
    token = ring.encrypt(b"secret", purpose="p")
    version, kid, body = token.split(".")
    raw = base64.urlsafe_b64decode(NEW)
    assert (version, kid) == ("v2", key_id(raw)) and kid == ring.current_id and len(kid) == 8
    assert NEW not in token and raw.hex()[:8] != kid
    assert ring.decrypt(token, purpose="p") == b"secret"
    assert Keyring(OLD).current_id != kid


def test_v1_tokens_still_open_under_the_current_or_a_previous_key() -> None:
    assert Keyring(OLD).decrypt(v1_token(OLD, b"a", "p"), purpose="p") == b"a"
    assert Keyring(NEW, [OLD]).decrypt(v1_token(OLD, b"b", "p"), purpose="p") == b"b"
    assert Keyring(NEW, f" {Keyring.generate_key()}, {OLD} ,").decrypt(v1_token(OLD, b"c", "p"), purpose="p") == b"c"


def test_after_rotation_old_tokens_open_by_their_key_id_and_reencrypt_under_the_new_one() -> None:
    old_token = Keyring(OLD).encrypt(b"value", purpose="p")
    ring = Keyring(NEW, [OLD])
    assert not ring.is_current(old_token)
    assert ring.decrypt(old_token, purpose="p") == b"value"
    rotated = ring.reencrypt(old_token, purpose="p")
    assert rotated is not None and rotated.startswith(ring.current_prefix) and ring.is_current(rotated)
    assert ring.reencrypt(rotated, purpose="p") is rotated  # idempotent
    assert Keyring(NEW).decrypt(rotated, purpose="p") == b"value"  # the old key can go now


def test_a_wrong_or_missing_key_or_another_purpose_is_refused() -> None:
    token = Keyring(OLD).encrypt(b"value", purpose="p")
    with pytest.raises(SecretError, match="neither"):
        Keyring(NEW).decrypt(token, purpose="p")  # the old key was dropped too early
    with pytest.raises(SecretError):
        Keyring(NEW).decrypt(v1_token(OLD, b"x", "p"), purpose="p")
    with pytest.raises(SecretError):
        Keyring(OLD).decrypt(token, purpose="q")
    forged = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(SecretError):
        Keyring(OLD).decrypt(forged, purpose="p")
    with pytest.raises(SecretError):
        Keyring(OLD).decrypt("v3.x.y", purpose="p")
    with pytest.raises(ValueError):
        Keyring(base64.urlsafe_b64encode(b"short").decode())


def test_blind_indexes_are_keyed_deterministic_and_one_per_key() -> None:
    ring = Keyring(NEW, [OLD])
    index = ring.blind_index("ada@example.com", purpose="email")
    assert index == Keyring(NEW).blind_index("ada@example.com", purpose="email")
    assert index != ring.blind_index("ada@example.com", purpose="other")
    assert index != ring.blind_index("bob@example.com", purpose="email")
    assert ring.blind_indexes("ada@example.com", purpose="email") == [
        index, Keyring(OLD).blind_index("ada@example.com", purpose="email")]
    import hashlib
    assert index != hashlib.sha256(b"ada@example.com").digest()  # not reversible by a dictionary without the key
