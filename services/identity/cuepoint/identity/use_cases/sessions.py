"""Sign-in sessions and their tokens: opening one (a sign-in), refreshing it, ending it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from cuepoint.contracts import identity as events
from cuepoint.runtime.auth import CurrentUser
from cuepoint.runtime.errors import NotFound, Unauthenticated
from cuepoint.runtime.unit_of_work import UnitsOfWork

from ..domain import sessions
from ..domain.tokens import MalformedToken, new_token, parse_token
from ..domain.users import User
from ..security import SigningKeys, sign_access_token
from ..settings import IdentitySettings
from ..unit_of_work import IdentityUnitOfWork
from . import now


@dataclass(frozen=True)
class ClientInfo:
    ip_address: str | None = None
    user_agent: str | None = None
    device_id: str | None = None


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: uuid.UUID
    token_type: str = "Bearer"


@dataclass(frozen=True)
class Refresh:
    refresh_token: str


@dataclass(frozen=True)
class RevokeSession:
    actor: CurrentUser
    session_id: UUID
    reason: str = "revoked by user"


@dataclass(frozen=True)
class Logout:
    actor: CurrentUser


async def open_session(uow: IdentityUnitOfWork, user: User, client: ClientInfo, *, keys: SigningKeys,
                       settings: IdentitySettings) -> TokenPair:
    session_id = uuid.uuid4()
    await uow.auth_sessions.add(
        session_id=session_id, tenant_id=user.tenant_id, user_id=user.id, device_id=client.device_id,
        user_agent=(client.user_agent or "")[:500] or None, ip_address=client.ip_address,
        expires_at=now() + timedelta(days=settings.refresh_token_ttl_days))
    return await _issue(uow, user, session_id, keys=keys, settings=settings)


async def _issue(uow: IdentityUnitOfWork, user: User, session_id: UUID, *, keys: SigningKeys,
                 settings: IdentitySettings) -> TokenPair:
    refresh, refresh_hash = new_token(user.tenant_id)
    await uow.refresh_tokens.add(token_id=uuid.uuid4(), tenant_id=user.tenant_id, session_id=session_id,
                                 token_hash=refresh_hash)
    ttl = timedelta(seconds=settings.access_token_ttl_seconds)
    access = sign_access_token(
        await keys.current(), user_id=user.id, tenant_id=user.tenant_id, role=user.role, session_id=session_id,
        platform_admin=user.is_platform_admin, audience=settings.jwt_audience, issuer=settings.jwt_issuer, ttl=ttl)
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=int(ttl.total_seconds()),
                     session_id=session_id)


async def refresh(command: Refresh, units: UnitsOfWork[IdentityUnitOfWork], *, keys: SigningKeys,
                  settings: IdentitySettings) -> TokenPair:
    """A new token pair for the session; the refresh token is used up. A used one presented again was
    stolen, or the thief refreshed first: either way the whole family (the session) ends."""
    try:
        tenant_id, token_hash = parse_token(command.refresh_token)
    except MalformedToken as error:
        raise Unauthenticated("the refresh token is malformed") from error
    async with units(tenant_id) as uow:
        token = await uow.refresh_tokens.by_hash(token_hash)
        if token is None:
            raise Unauthenticated("unknown refresh token")
        auth_session = await uow.auth_sessions.get(token.session_id, lock=True)
        assert auth_session is not None
        if token.used_at is None:
            sessions.ensure_open(auth_session, now())
            user = await uow.users.get(auth_session.user_id)
            tenant = await uow.tenants.get(tenant_id)
            if user is None:
                raise NotFound(f"no user {auth_session.user_id}")
            assert tenant is not None
            sessions.ensure_may_refresh(user, tenant)
            await uow.refresh_tokens.use(token.id)
            await uow.auth_sessions.touch(auth_session.id)
            return await _issue(uow, user, auth_session.id, keys=keys, settings=settings)
        if auth_session.revoked_at is None:
            await uow.auth_sessions.revoke(auth_session.id, "refresh token reused")
            await announce_ended(uow, tenant_id, auth_session.user_id, [auth_session.id], "refresh token reused",
                                 None)
    # Raised once the revocation committed.
    raise Unauthenticated("this refresh token was already used; the session has been ended for safety")


async def revoke_session(command: RevokeSession, uow: IdentityUnitOfWork) -> None:
    """Ends one of the actor's own open sessions."""
    actor = command.actor
    if not await uow.auth_sessions.revoke(command.session_id, command.reason, user_id=actor.id):
        raise NotFound("no such active session")
    await announce_ended(uow, actor.tenant_id, actor.id, [command.session_id], command.reason, actor.id)


async def logout(command: Logout, units: UnitsOfWork[IdentityUnitOfWork]) -> None:
    actor = command.actor
    if actor.session_id is None:
        return
    try:
        async with units(actor.tenant_id) as uow:
            await revoke_session(RevokeSession(actor, actor.session_id, reason="logout"), uow)
    except NotFound:
        pass  # already ended: logging out twice is fine


async def end_sessions(uow: IdentityUnitOfWork, user_id: UUID, reason: str, *, keep: UUID | None = None,
                       actor_id: UUID | None = None) -> None:
    """Ends the user's open sessions (all but ``keep``) and announces it."""
    ended = await uow.auth_sessions.revoke_of_user(user_id, reason, keep=keep)
    if ended:
        assert uow.tenant_id is not None
        await announce_ended(uow, uow.tenant_id, user_id, ended, reason, actor_id)


async def announce_ended(uow: IdentityUnitOfWork, tenant_id: UUID, user_id: UUID, session_ids: list[UUID],
                         reason: str, actor_id: UUID | None) -> None:
    """Every service refuses these sessions' access tokens once it hears of this (the tokens are
    otherwise valid until they expire)."""
    await uow.emit(events.SessionsRevoked(user_id=user_id, session_ids=session_ids, reason=reason),
                   tenant_id=tenant_id, actor_id=actor_id)
