"""Opaque tokens (verification, invitation, refresh): ``<tenant id>.<random>``.

Only a SHA-256 of the random part is stored, so a database leak yields no usable token.
The tenant id in clear lets the service scope its lookup (row-level security) first.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from uuid import UUID

from cuepoint.runtime.errors import Gone


class MalformedToken(ValueError):
    pass


def new_token(tenant_id: UUID) -> tuple[str, bytes]:
    """A fresh token and the hash to store."""
    secret = secrets.token_urlsafe(32)
    return f"{tenant_id}.{secret}", hash_secret(secret)


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def parse_token(token: str) -> tuple[UUID, bytes]:
    """(tenant id, stored hash) of a token; raises ``MalformedToken``."""
    tenant, dot, secret = token.strip().partition(".")
    if not dot or len(secret) < 20 or len(token) > 200:
        raise MalformedToken("malformed token")
    try:
        return UUID(tenant), hash_secret(secret)
    except ValueError:
        raise MalformedToken("malformed token") from None


def ensure_usable(used_at: datetime | None, expires_at: datetime, now: datetime, *, what: str) -> None:
    """A link or invitation works once, and not after it expired."""
    if used_at is not None:
        raise Gone(f"this {what} was already used")
    if expires_at < now:
        raise Gone(f"this {what} has expired; ask for a new one")
