"""Opaque tokens (verification, invitation, refresh): ``<tenant id>.<random>``.

Only a SHA-256 of the random part is stored, so a database leak yields no usable token.
The tenant id in clear lets the service scope its lookup (row-level security) first.
"""

from __future__ import annotations

import hashlib
import secrets
from uuid import UUID


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
