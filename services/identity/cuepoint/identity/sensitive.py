"""Which of identity's columns are sensitive, and how they are kept at rest (README "Sensitive fields").

Encrypted (AES-256-GCM under the keyring of ``CUEPOINT_SECRET_KEY``, runtime/secrets.py), each column
under a purpose of its own: ``users.email``, ``invitations.email``, ``email_change_tokens.new_email``,
and the client a session was opened from (``auth_sessions.device_id``, ``user_agent``, ``ip_address``).
The columns keep the seed's names and hold the ciphertext ("v2.<key id>.<…>"): what reads the schema
reads the same tables and columns, and a column named ``email`` that holds no address is said so by
its comment (migration 0007), where a second ``email_encrypted`` column would leave a plaintext
one to drop and every reader to change anyway.

What a feature looks up gets a blind index beside it (HMAC-SHA256 under a key derived from the master
key): ``users.email_index`` (sign-in, registration, invitation, recovery and email change find an
account by its address; unique per organisation, as the address was), ``invitations.email_index``
(an erasure readdresses the invitations sent to the person) and ``auth_sessions.ip_address_index``
(sign-in throttling asks whether the account signed in from this address before). While previous
keys are configured a lookup matches the value's index under every key (rows not yet rotated);
``rotate-secrets`` re-encrypts and re-indexes every row under the current key.

``display_name`` stays plaintext: rosters sort by it and the admins' user search matches it
typo-tolerantly (pg_trgm), which needs the text. The admins' search finds an email address only
exactly (through the index).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cuepoint.runtime.secrets import Keyring

from .domain.users import normalize_email


@dataclass(frozen=True)
class Index:
    column: str
    source: str
    purpose: str
    normalize: Callable[[str], str]


EMAIL_INDEX = "identity.email"
IP_INDEX = "identity.ip-address"

ENCRYPTED: dict[str, tuple[str, ...]] = {
    "users": ("email",),
    "invitations": ("email",),
    "email_change_tokens": ("new_email",),
    "auth_sessions": ("device_id", "user_agent", "ip_address"),
}
INDEXED: dict[str, tuple[Index, ...]] = {
    "users": (Index("email_index", "email", EMAIL_INDEX, normalize_email),),
    "invitations": (Index("email_index", "email", EMAIL_INDEX, normalize_email),),
    "auth_sessions": (Index("ip_address_index", "ip_address", IP_INDEX, str),),
}


def purpose(table: str, column: str) -> str:
    return f"identity.{table}.{column}"


class SensitiveFields:
    """Seals what identity writes and opens what it reads, by table."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    def seal(self, table: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` to write: sensitive columns encrypted, with their blind indexes."""
        sealed = dict(values)
        for index in INDEXED.get(table, ()):
            if index.source in values:
                value = values[index.source]
                sealed[index.column] = (None if value is None else
                                        self.keyring.blind_index(index.normalize(value), purpose=index.purpose))
        for column in ENCRYPTED.get(table, ()):
            if column in values:
                sealed[column] = self.keyring.encrypt_text(values[column], purpose=purpose(table, column))
        return sealed

    def open(self, table: str, row: Mapping[str, Any]) -> dict[str, Any]:
        """A row read: sensitive columns decrypted, blind indexes left out."""
        indexes = {index.column for index in INDEXED.get(table, ())}
        opened = {key: value for key, value in row.items() if key not in indexes}
        for column in ENCRYPTED.get(table, ()):
            if column in opened:
                opened[column] = self.keyring.decrypt_text(opened[column], purpose=purpose(table, column))
        return opened

    def email_indexes(self, email: str) -> list[bytes]:
        """What an account (or invitation) of this address is found by: its index under every key."""
        return self.keyring.blind_indexes(normalize_email(email), purpose=EMAIL_INDEX)

    def ip_indexes(self, address: str) -> list[bytes]:
        return self.keyring.blind_indexes(address, purpose=IP_INDEX)
