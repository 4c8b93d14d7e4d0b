"""What accounts are made and proven with: invitations, and the single-use links sent by email
(email verification, password reset, email change)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class Invitation:
    id: UUID
    tenant_id: UUID
    email: str
    role: str
    invited_by_id: UUID
    token_hash: bytes
    expires_at: datetime
    accepted_at: datetime | None
    accepted_user_id: UUID | None
    created_at: datetime


@dataclass(frozen=True)
class AccountToken:
    """One emailed link: verification, password reset or email change (which alone has ``new_email``)."""

    id: UUID
    tenant_id: UUID
    user_id: UUID
    token_hash: bytes
    expires_at: datetime
    used_at: datetime | None
    created_at: datetime
    new_email: str | None = None
