"""Sign-in sessions: who may sign in, and when a session may be refreshed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from cuepoint.runtime.errors import Forbidden, Unauthenticated

from .tenants import ACTIVE, Tenant
from .users import User


@dataclass(frozen=True)
class AuthSession:
    id: UUID
    tenant_id: UUID
    user_id: UUID
    device_id: str | None
    user_agent: str | None
    ip_address: str | None
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None


@dataclass(frozen=True)
class RefreshToken:
    id: UUID
    tenant_id: UUID
    session_id: UUID
    token_hash: bytes
    created_at: datetime
    used_at: datetime | None


@dataclass(frozen=True)
class Refusal:
    """Why an account with the right password may not sign in: the audited reason and the answer."""

    reason: str
    error: Forbidden


def sign_in_refusal(tenant: Tenant, user: User, *, verification_required: bool) -> Refusal | None:
    """Asked only once the password proved right: only then may the answer say why."""
    if tenant.status != ACTIVE:
        return Refusal("organisation-suspended", Forbidden("this organisation is suspended"))
    if user.status != ACTIVE:
        return Refusal("deactivated", Forbidden("this account is deactivated"))
    if not user.email_verified and verification_required:
        return Refusal("email-not-verified", Forbidden(
            "confirm your email address first (see the email we sent, or ask for a new one)",
            reason="email-not-verified"))
    return None


def ensure_open(auth_session: AuthSession, now: datetime) -> None:
    if auth_session.revoked_at is not None or auth_session.expires_at < now:
        raise Unauthenticated("this session has ended; log in again")


def ensure_may_refresh(user: User, tenant: Tenant) -> None:
    """A deactivated account, or one of a suspended organisation, gets no new access token."""
    if user.status != ACTIVE or tenant.status != ACTIVE:
        raise Unauthenticated("this account can no longer log in")
