"""Unsubscribe links: a signed (tenant, user, notification) that turns one email notification off
without signing in. HMAC-SHA256 under a key of identity's own; nothing to store, nothing to expire
(unsubscribing twice is harmless)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from uuid import UUID

from .tokens import MalformedToken

NOTIFICATIONS = ("email_new_lesson", "email_grades", "email_weekly_summary")


@dataclass(frozen=True)
class Unsubscription:
    tenant_id: UUID
    user_id: UUID
    notification: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, what: Unsubscription) -> str:
    payload = _b64(json.dumps([str(what.tenant_id), str(what.user_id), what.notification]).encode())
    return f"{payload}.{_b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())}"


def verify(key: bytes, token: str) -> Unsubscription:
    """Raises ``MalformedToken`` unless the token is one ``sign`` made with this key."""
    payload, dot, signature = token.strip().partition(".")
    expected = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    # Compared as bytes: compare_digest refuses non-ASCII text with a TypeError.
    if not dot or not hmac.compare_digest(signature.encode(), expected.encode()):
        raise MalformedToken("this unsubscribe link is not valid")
    try:
        tenant, user, notification = json.loads(_unb64(payload))
        if notification not in NOTIFICATIONS:
            raise ValueError(notification)
        return Unsubscription(UUID(tenant), UUID(user), notification)
    except (ValueError, TypeError) as error:
        raise MalformedToken("this unsubscribe link is not valid") from error
