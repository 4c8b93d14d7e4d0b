"""identity's use cases. Each runs in one transaction scoped to one tenant (RLS), writes
its events to the outbox in that transaction, and sends email only after commit."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, case, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cuepoint.contracts import identity as events
from cuepoint.contracts.configs import CONFIG_KEYS, resolve
from cuepoint.contracts.topics import USER_PROFILES
from cuepoint.runtime.auth import CurrentUser, Role
from cuepoint.runtime.db import set_tenant, tenant_transaction
from cuepoint.runtime.errors import Conflict, Forbidden, Gone, Invalid, NotFound, TooManyRequests, Unauthenticated
from cuepoint.runtime.outbox import Outbox

from . import orm
from .domain import throttle, unsubscribe
from .domain.passwords import password_problems
from .domain.preferences import Preferences, merge
from .domain.tokens import MalformedToken, new_token, parse_token
from .domain.users import may_invite, normalize_email, with_article
from .mail import Email, Mailer, send_quietly
from .security import Passwords, SigningKeys, sign_access_token
from .settings import IdentitySettings

PLATFORM_TENANT_SLUG = "platform"
INVALID_CREDENTIALS = "the email or password is wrong"


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


def _now() -> datetime:
    return datetime.now(UTC)


def _digest(value: str) -> str:
    """Throttle subjects are hashed: the table holds no email address."""
    return hashlib.sha256(value.encode()).hexdigest()


class Identity:
    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], outbox: Outbox, passwords: Passwords,
                 keys: SigningKeys, mailer: Mailer, settings: IdentitySettings, unsubscribe_key: bytes = b"") -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.passwords = passwords
        self.keys = keys
        self.mailer = mailer
        self.settings = settings
        self._mail_tasks: set[asyncio.Task[None]] = set()
        self.unsubscribe_key = unsubscribe_key

    # --- tenants (platform admin) ---------------------------------------------------------

    async def create_tenant(self, actor: CurrentUser | None, *, slug: str, name: str, is_platform: bool = False,
                            admin_email: str | None = None) -> Any:
        """A new tenant; with ``admin_email``, its first admin is invited by email."""
        tenant_id = uuid.uuid4()
        invitation: Email | None = None
        async with tenant_transaction(self.sessions, tenant_id) as session:
            try:
                await session.execute(orm.tenants.insert().values(
                    id=tenant_id, slug=slug, name=name, status="ACTIVE", is_platform=is_platform, created_at=_now(),
                    updated_at=_now()))
                await session.flush()
            except IntegrityError as error:
                raise Conflict(f"a tenant with slug {slug!r} already exists") from error
            await self.outbox.emit(session, events.TenantCreated(tenant_id=tenant_id, slug=slug), tenant_id=tenant_id,
                                   actor_id=actor.id if actor else None)
            tenant = (await session.execute(select(orm.tenants).where(orm.tenants.c.id == tenant_id))).one()
            if admin_email and actor is not None:
                _, invitation = await self._create_invitation(session, tenant, normalize_email(admin_email), Role.ADMIN,
                                                              actor.id)
        if invitation:
            await send_quietly(self.mailer, invitation)
        return tenant

    async def list_tenants(self, *, limit: int, offset: int) -> tuple[list[Any], int]:
        async with self.sessions() as session:
            total = (await session.execute(select(func.count()).select_from(orm.tenants))).scalar_one()
            rows = (await session.execute(select(orm.tenants).order_by(orm.tenants.c.created_at, orm.tenants.c.id)
                                          .limit(limit).offset(offset))).all()
        return list(rows), total

    async def set_tenant_status(self, actor: CurrentUser, tenant_id: uuid.UUID, status: str) -> Any:
        async with tenant_transaction(self.sessions, tenant_id) as session:
            tenant = (await session.execute(select(orm.tenants).where(orm.tenants.c.id == tenant_id)
                                            .with_for_update())).first()
            if tenant is None:
                raise NotFound(f"no tenant {tenant_id}")
            if tenant.is_platform:
                raise Forbidden("the platform tenant cannot be suspended")
            if tenant.status != status:
                await session.execute(update(orm.tenants).where(orm.tenants.c.id == tenant_id)
                                      .values(status=status, updated_at=_now()))
                event = (events.TenantSuspended if status == "SUSPENDED" else events.TenantReactivated)(tenant_id=tenant_id)
                await self.outbox.emit(session, event, tenant_id=tenant_id, actor_id=actor.id)
                if status == "SUSPENDED":
                    ended = (await session.execute(update(orm.auth_sessions)
                                                   .where(orm.auth_sessions.c.revoked_at.is_(None))
                                                   .values(revoked_at=_now(), revoke_reason="tenant suspended")
                                                   .returning(orm.auth_sessions.c.user_id, orm.auth_sessions.c.id))).all()
                    by_user: dict[uuid.UUID, list[uuid.UUID]] = {}
                    for user_id, session_id in ended:
                        by_user.setdefault(user_id, []).append(session_id)
                    for user_id, session_ids in by_user.items():
                        await self._announce_ended(session, tenant_id, user_id, session_ids, "tenant suspended",
                                                   actor.id)
            return (await session.execute(select(orm.tenants).where(orm.tenants.c.id == tenant_id))).one()

    async def _tenant_by_slug(self, session: AsyncSession, slug: str) -> Any:
        return (await session.execute(select(orm.tenants).where(orm.tenants.c.slug == slug.strip().lower()))).first()

    # --- registration, invitations, verification ------------------------------------------

    async def register(self, *, tenant_slug: str, email: str, password: str, display_name: str,
                       invitation_token: str | None = None, client: ClientInfo = ClientInfo()) -> Any:
        """The new account; None when, without an invitation, the email already has an account here: its
        owner is told by email instead, and the caller answers as for a new account (the answer must not
        say which addresses have accounts; issue 16, finding 7)."""
        email = normalize_email(email)
        problems = password_problems(password, email=email, display_name=display_name)
        if problems:
            raise Invalid(f"password {'; '.join(problems)}", errors=[{"location": "body.password", "message": p}
                                                                      for p in problems])
        password_hash = await self.passwords.hash(password)
        async with self.sessions() as session, session.begin():
            tenant = await self._tenant_by_slug(session, tenant_slug)
            if tenant is None or tenant.is_platform:
                raise NotFound(f"no organisation {tenant_slug!r}")
            if tenant.status != "ACTIVE":
                raise Forbidden("this organisation is suspended")
            await set_tenant(session, tenant.id)
            role, invited_by, verified = "STUDENT", None, False
            invitation = None
            if invitation_token:
                invitation = await self._open_invitation(session, tenant.id, invitation_token)
                if normalize_email(invitation.email) != email:
                    raise Invalid("this invitation is for another email address")
                role, invited_by, verified = invitation.role, invitation.invited_by_id, True
            elif (await session.execute(select(orm.users.c.id).where(
                    func.lower(orm.users.c.email) == email))).first() is not None:
                self._send_later(Email(
                    to=email, subject="Someone tried to create a Cuepoint account with your address",
                    text=f"Someone asked to create an account at {tenant.name} with this address, which already "
                         "has one there. Nothing changed. If it was you, sign in; if you forgot your password, "
                         f"ask for a reset link at {self.settings.public_base_url}/forgot-password.\n"))
                return None
            user_id = uuid.uuid4()
            try:
                await session.execute(orm.users.insert().values(
                    id=user_id, tenant_id=tenant.id, email=email, display_name=display_name.strip(),
                    password_hash=password_hash, role=role, is_platform_admin=False, status="ACTIVE",
                    email_verified=verified, email_verified_at=_now() if verified else None, created_at=_now(),
                    updated_at=_now()))
                await session.flush()
            except IntegrityError as error:
                raise Conflict("an account with this email already exists in this organisation") from error
            await session.execute(orm.user_preferences.insert().values(
                user_id=user_id, tenant_id=tenant.id, preferences=Preferences().model_dump(mode="json"),
                updated_at=_now()))
            if invitation is not None:
                await session.execute(update(orm.invitations).where(orm.invitations.c.id == invitation.id)
                                      .values(accepted_at=_now(), accepted_user_id=user_id))
            await self.outbox.emit(session, events.UserRegistered(user_id=user_id, role=role, invited_by_id=invited_by),
                                   tenant_id=tenant.id, actor_id=user_id)
            user = await self._user(session, user_id)
            await self._publish_profile(session, user)
            verification = None
            if verified:
                await self.outbox.emit(session, events.UserVerified(user_id=user_id), tenant_id=tenant.id,
                                       actor_id=user_id)
            else:
                verification = await self._new_verification(session, user)
        if verification:
            self._send_later(verification)  # in the background, as the note to a known address: alike in time
        return user

    async def invite(self, actor: CurrentUser, *, email: str, role: str) -> Any:
        invitee = Role.parse(role)
        if not may_invite(actor.role, invitee):
            raise Forbidden(f"a {actor.role.name.lower()} cannot invite a {invitee.name.lower()}")
        email = normalize_email(email)
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            existing = (await session.execute(select(orm.users.c.id).where(
                func.lower(orm.users.c.email) == email))).first()
            if existing:
                raise Conflict("an account with this email already exists in this organisation")
            tenant = (await session.execute(select(orm.tenants).where(orm.tenants.c.id == actor.tenant_id))).one()
            invitation, message = await self._create_invitation(session, tenant, email, invitee, actor.id)
        await send_quietly(self.mailer, message)
        return invitation

    async def _create_invitation(self, session: AsyncSession, tenant: Any, email: str, role: Role,
                                 invited_by: uuid.UUID) -> tuple[Any, Email]:
        token, token_hash = new_token(tenant.id)
        invitation_id = uuid.uuid4()
        await session.execute(orm.invitations.insert().values(
            id=invitation_id, tenant_id=tenant.id, email=email, role=role.name, invited_by_id=invited_by,
            token_hash=token_hash, expires_at=_now() + timedelta(days=self.settings.invitation_ttl_days),
            created_at=_now()))
        invitation = (await session.execute(select(orm.invitations).where(orm.invitations.c.id == invitation_id))).one()
        await self.outbox.emit(session, events.InvitationSent(invitation_id=invitation_id, role=role.name,
                                                              expires_at=invitation.expires_at),
                               tenant_id=tenant.id, actor_id=invited_by)
        link = f"{self.settings.public_base_url}/accept-invitation?tenant={tenant.slug}&token={token}"
        return invitation, Email(
            to=email, subject=f"You are invited to {tenant.name} on Cuepoint",
            text=f"You have been invited to join {tenant.name} as {with_article(role.name.lower())}.\n\n"
                 f"Accept the invitation and choose a password:\n{link}\n\nInvitation token: {token}\n"
                 f"The link expires in {self.settings.invitation_ttl_days} days.\n")

    async def _open_invitation(self, session: AsyncSession, tenant_id: uuid.UUID, token: str) -> Any:
        try:
            token_tenant, token_hash = parse_token(token)
        except MalformedToken as error:
            raise Invalid("the invitation token is malformed") from error
        invitation = (await session.execute(select(orm.invitations).where(
            orm.invitations.c.token_hash == token_hash).with_for_update())).first()
        if token_tenant != tenant_id or invitation is None:
            raise NotFound("no such invitation")
        if invitation.accepted_at is not None:
            raise Gone("this invitation was already used")
        if invitation.expires_at < _now():
            raise Gone("this invitation has expired; ask for a new one")
        return invitation

    async def _new_verification(self, session: AsyncSession, user: Any) -> Email:
        token, token_hash = new_token(user.tenant_id)
        await session.execute(orm.email_verification_tokens.insert().values(
            id=uuid.uuid4(), tenant_id=user.tenant_id, user_id=user.id, token_hash=token_hash,
            expires_at=_now() + timedelta(hours=self.settings.verification_token_ttl_hours), created_at=_now()))
        link = f"{self.settings.public_base_url}/verify-email?token={token}"
        return Email(to=user.email, subject="Confirm your email address for Cuepoint",
                     text=f"Hello {user.display_name},\n\nconfirm your email address:\n{link}\n\n"
                          f"Verification token: {token}\n"
                          f"The link expires in {self.settings.verification_token_ttl_hours} hours.\n")

    async def verify_email(self, token: str) -> Any:
        try:
            tenant_id, token_hash = parse_token(token)
        except MalformedToken as error:
            raise Invalid("the verification token is malformed") from error
        async with tenant_transaction(self.sessions, tenant_id) as session:
            row = (await session.execute(select(orm.email_verification_tokens).where(
                orm.email_verification_tokens.c.token_hash == token_hash).with_for_update())).first()
            if row is None:
                raise NotFound("no such verification token")
            if row.used_at is not None:
                raise Gone("this verification link was already used")
            if row.expires_at < _now():
                raise Gone("this verification link has expired; ask for a new one")
            await session.execute(update(orm.email_verification_tokens)
                                  .where(orm.email_verification_tokens.c.id == row.id).values(used_at=_now()))
            user = await self._user(session, row.user_id)
            if not user.email_verified:
                await session.execute(update(orm.users).where(orm.users.c.id == user.id)
                                      .values(email_verified=True, email_verified_at=_now(), updated_at=_now()))
                await self.outbox.emit(session, events.UserVerified(user_id=user.id), tenant_id=tenant_id,
                                       actor_id=user.id)
            return await self._user(session, user.id)

    async def resend_verification(self, *, tenant_slug: str, email: str) -> None:
        """Always succeeds from the caller's view, so it cannot reveal who has an account."""
        pending: Email | None = None
        async with self.sessions() as session, session.begin():
            tenant = await self._tenant_by_slug(session, tenant_slug)
            if tenant is None:
                return
            await set_tenant(session, tenant.id)
            user = (await session.execute(select(orm.users).where(
                func.lower(orm.users.c.email) == normalize_email(email)))).first()
            if user is None or user.email_verified or user.status != "ACTIVE":
                return
            recent = (await session.execute(select(func.count()).select_from(orm.email_verification_tokens).where(
                orm.email_verification_tokens.c.user_id == user.id,
                orm.email_verification_tokens.c.created_at > _now() - timedelta(hours=1)))).scalar_one()
            if recent >= self.settings.verification_resend_per_hour:
                raise TooManyRequests("verification emails are limited; try again later", retry_after=3600)
            pending = await self._new_verification(session, user)
        if pending:
            await send_quietly(self.mailer, pending)

    # --- login, refresh, sessions ------------------------------------------------------------

    async def login(self, *, tenant_slug: str, email: str, password: str, client: ClientInfo) -> TokenPair:
        email = normalize_email(email)
        address = client.ip_address or "unknown"
        async with self.sessions() as session, session.begin():
            tenant = await self._tenant_by_slug(session, tenant_slug)
            account = _digest(f"{tenant.id if tenant else tenant_slug}:{email}")
            await self._check_throttle(session, [(throttle.ACCOUNT_FROM_ADDRESS, f"{account}:{address}"),
                                                 (throttle.ADDRESS, address)])
            user = None
            if tenant is not None:
                await set_tenant(session, tenant.id)
                user = (await session.execute(select(orm.users).where(func.lower(orm.users.c.email) == email))).first()
            # The account-wide counter spares an address the account has signed in from before: the
            # address the connection came from (forwarded only by the trusted gateway), never a device_id,
            # which is a string the client chooses (issue 16, finding 6).
            known_address = user is not None and client.ip_address is not None and (await session.execute(
                select(func.count()).select_from(orm.auth_sessions).where(
                    orm.auth_sessions.c.user_id == user.id, orm.auth_sessions.c.ip_address == client.ip_address))
            ).scalar_one() > 0
            if not known_address:
                await self._check_throttle(session, [(throttle.ACCOUNT_FROM_NEW_ADDRESS, account)])
        password_ok = await self.passwords.verify(user.password_hash if user else None, password)

        async with self.sessions() as session, session.begin():
            if not password_ok or user is None or user.status == "ERASED":
                await self._record_failure(session, [(throttle.ACCOUNT_FROM_ADDRESS, f"{account}:{address}"),
                                                     (throttle.ADDRESS, address),
                                                     (throttle.ACCOUNT_FROM_NEW_ADDRESS, account)])
                if user is not None:  # audited: a refused sign-in to an account that exists
                    await self._sign_in_failed(session, user, "erased" if user.status == "ERASED" else "wrong-password")
                failed = True
            else:
                failed = False
                await session.execute(orm.auth_throttle.delete().where(
                    orm.auth_throttle.c.subject.in_([f"{account}:{address}", account])))
        if failed:
            raise Unauthenticated(INVALID_CREDENTIALS)
        # The password is right: now it is safe to say why the account cannot log in.
        assert tenant is not None and user is not None
        refusal: tuple[str, Forbidden] | None = None
        if tenant.status != "ACTIVE":
            refusal = "organisation-suspended", Forbidden("this organisation is suspended")
        elif user.status != "ACTIVE":
            refusal = "deactivated", Forbidden("this account is deactivated")
        elif not user.email_verified and await self._verification_required(tenant.id):
            refusal = "email-not-verified", Forbidden(
                "confirm your email address first (see the email we sent, or ask for a new one)",
                reason="email-not-verified")
        if refusal is not None:
            async with self.sessions() as session, session.begin():
                await self._sign_in_failed(session, user, refusal[0])
            raise refusal[1]
        new_hash = await self.passwords.hash(password) if self.passwords.needs_rehash(user.password_hash) else None
        async with tenant_transaction(self.sessions, tenant.id) as session:
            values: dict[str, Any] = {"last_login_at": _now()}
            if new_hash:
                values["password_hash"] = new_hash
            await session.execute(update(orm.users).where(orm.users.c.id == user.id).values(**values))
            pair = await self._open_session(session, user, client)
            await self.outbox.emit(session, events.UserSignedIn(user_id=user.id, session_id=pair.session_id),
                                   tenant_id=user.tenant_id, actor_id=user.id)
            return pair

    async def _sign_in_failed(self, session: AsyncSession, user: Any, reason: str) -> None:
        # No actor: nobody proved who they are; the account named is the target.
        await self.outbox.emit(session, events.UserSignInFailed(user_id=user.id, reason=reason), tenant_id=user.tenant_id)

    async def _verification_required(self, tenant_id: uuid.UUID) -> bool:
        async with tenant_transaction(self.sessions, tenant_id) as session:
            return bool(await self._config_value(session, tenant_id, "identity.requireEmailVerification"))

    async def _check_throttle(self, session: AsyncSession, subjects: list[tuple[throttle.Rule, str]]) -> None:
        for rule, subject in subjects:
            row = (await session.execute(select(orm.auth_throttle).where(
                orm.auth_throttle.c.scope == rule.scope, orm.auth_throttle.c.subject == subject))).first()
            if row is None:
                continue
            elapsed = (_now() - row.last_failure_at).total_seconds()
            if elapsed > throttle.FAILURE_MEMORY_SECONDS:
                continue
            wait = throttle.required_delay(rule, row.failures) - elapsed
            if wait > 0:
                raise TooManyRequests("too many failed attempts; wait before trying again", retry_after=int(wait) + 1)

    async def _record_failure(self, session: AsyncSession, subjects: list[tuple[throttle.Rule, str]]) -> None:
        for rule, subject in subjects:
            table = orm.auth_throttle
            stale = _now() - timedelta(seconds=throttle.FAILURE_MEMORY_SECONDS)
            statement = pg_insert(table).values(scope=rule.scope, subject=subject, failures=1, last_failure_at=_now())
            await session.execute(statement.on_conflict_do_update(
                index_elements=[table.c.scope, table.c.subject],
                set_={"failures": case((table.c.last_failure_at < stale, 1), else_=table.c.failures + 1),
                      "last_failure_at": _now()}))

    async def _open_session(self, session: AsyncSession, user: Any, client: ClientInfo) -> TokenPair:
        session_id = uuid.uuid4()
        await session.execute(orm.auth_sessions.insert().values(
            id=session_id, tenant_id=user.tenant_id, user_id=user.id, device_id=client.device_id,
            user_agent=(client.user_agent or "")[:500] or None, ip_address=client.ip_address, created_at=_now(),
            last_used_at=_now(), expires_at=_now() + timedelta(days=self.settings.refresh_token_ttl_days)))
        return await self._issue(session, user, session_id)

    async def _issue(self, session: AsyncSession, user: Any, session_id: uuid.UUID) -> TokenPair:
        refresh, refresh_hash = new_token(user.tenant_id)
        await session.execute(orm.refresh_tokens.insert().values(
            id=uuid.uuid4(), tenant_id=user.tenant_id, session_id=session_id, token_hash=refresh_hash,
            created_at=_now()))
        ttl = timedelta(seconds=self.settings.access_token_ttl_seconds)
        access = sign_access_token(
            await self.keys.current(), user_id=user.id, tenant_id=user.tenant_id, role=user.role,
            session_id=session_id, platform_admin=user.is_platform_admin, audience=self.settings.jwt_audience,
            issuer=self.settings.jwt_issuer, ttl=ttl)
        return TokenPair(access_token=access, refresh_token=refresh, expires_in=int(ttl.total_seconds()),
                         session_id=session_id)

    async def refresh(self, refresh_token: str) -> TokenPair:
        try:
            tenant_id, token_hash = parse_token(refresh_token)
        except MalformedToken as error:
            raise Unauthenticated("the refresh token is malformed") from error
        reused = False
        async with tenant_transaction(self.sessions, tenant_id) as session:
            token = (await session.execute(select(orm.refresh_tokens).where(
                orm.refresh_tokens.c.token_hash == token_hash).with_for_update())).first()
            if token is None:
                raise Unauthenticated("unknown refresh token")
            auth_session = (await session.execute(select(orm.auth_sessions).where(
                orm.auth_sessions.c.id == token.session_id).with_for_update())).one()
            if token.used_at is not None:
                # A used token presented again: it was stolen, or the thief refreshed first.
                # Either way the whole family (the session) ends.
                if auth_session.revoked_at is None:
                    await session.execute(update(orm.auth_sessions).where(orm.auth_sessions.c.id == auth_session.id)
                                          .values(revoked_at=_now(), revoke_reason="refresh token reused"))
                    await self._announce_ended(session, tenant_id, auth_session.user_id, [auth_session.id],
                                               "refresh token reused", None)
                reused = True
            elif auth_session.revoked_at is not None or auth_session.expires_at < _now():
                raise Unauthenticated("this session has ended; log in again")
            else:
                user = await self._user(session, auth_session.user_id)
                tenant = (await session.execute(select(orm.tenants).where(orm.tenants.c.id == tenant_id))).one()
                if user.status != "ACTIVE" or tenant.status != "ACTIVE":
                    raise Unauthenticated("this account can no longer log in")
                await session.execute(update(orm.refresh_tokens).where(orm.refresh_tokens.c.id == token.id)
                                      .values(used_at=_now()))
                await session.execute(update(orm.auth_sessions).where(orm.auth_sessions.c.id == auth_session.id)
                                      .values(last_used_at=_now()))
                return await self._issue(session, user, auth_session.id)
        assert reused
        raise Unauthenticated("this refresh token was already used; the session has been ended for safety")

    async def list_sessions(self, actor: CurrentUser) -> list[Any]:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            return list((await session.execute(select(orm.auth_sessions).where(
                orm.auth_sessions.c.user_id == actor.id, orm.auth_sessions.c.revoked_at.is_(None),
                orm.auth_sessions.c.expires_at > _now()).order_by(orm.auth_sessions.c.last_used_at.desc()))).all())

    async def revoke_session(self, actor: CurrentUser, session_id: uuid.UUID, reason: str = "revoked by user") -> None:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            result = await session.execute(update(orm.auth_sessions).where(
                orm.auth_sessions.c.id == session_id, orm.auth_sessions.c.user_id == actor.id,
                orm.auth_sessions.c.revoked_at.is_(None)).values(revoked_at=_now(), revoke_reason=reason))
            if result.rowcount == 0:
                raise NotFound("no such active session")
            await self._announce_ended(session, actor.tenant_id, actor.id, [session_id], reason, actor.id)

    async def logout(self, actor: CurrentUser) -> None:
        if actor.session_id is not None:
            try:
                await self.revoke_session(actor, actor.session_id, reason="logout")
            except NotFound:
                pass  # already ended: logging out twice is fine

    async def change_password(self, actor: CurrentUser, *, current_password: str, new_password: str) -> None:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            user = await self._user(session, actor.id)
        if not await self.passwords.verify(user.password_hash, current_password):
            raise Forbidden("the current password is wrong")
        problems = password_problems(new_password, email=user.email, display_name=user.display_name)
        if problems:
            raise Invalid(f"new password {'; '.join(problems)}")
        new_hash = await self.passwords.hash(new_password)
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            await session.execute(update(orm.users).where(orm.users.c.id == actor.id)
                                  .values(password_hash=new_hash, updated_at=_now()))
            await self._end_sessions(session, actor.id, "password changed", keep=actor.session_id, actor_id=actor.id)
            await self.outbox.emit(session, events.UserPasswordChanged(user_id=actor.id, method="changed"),
                                   tenant_id=actor.tenant_id, actor_id=actor.id)

    # --- password reset and email change (both proven by a link to the mailbox) ---------------

    async def request_password_reset(self, *, tenant_slug: str, email: str) -> None:
        """Emails a reset link if the account exists. The caller always gets the same answer, and the
        email goes out in the background, so neither the answer nor its timing tells who has an account;
        past the hourly limit no more links are sent (silently, for the same reason)."""
        async with self.sessions() as session, session.begin():
            tenant = await self._tenant_by_slug(session, tenant_slug)
            if tenant is None or tenant.status != "ACTIVE":
                return
            await set_tenant(session, tenant.id)
            user = (await session.execute(select(orm.users).where(
                func.lower(orm.users.c.email) == normalize_email(email)))).first()
            if user is None or user.status != "ACTIVE":
                return
            recent = (await session.execute(select(func.count()).select_from(orm.password_reset_tokens).where(
                orm.password_reset_tokens.c.user_id == user.id,
                orm.password_reset_tokens.c.created_at > _now() - timedelta(hours=1)))).scalar_one()
            if recent >= self.settings.password_reset_per_hour:
                return
            token, token_hash = new_token(tenant.id)
            minutes = self.settings.password_reset_ttl_minutes
            await session.execute(orm.password_reset_tokens.insert().values(
                id=uuid.uuid4(), tenant_id=tenant.id, user_id=user.id, token_hash=token_hash,
                expires_at=_now() + timedelta(minutes=minutes), created_at=_now()))
        link = f"{self.settings.public_base_url}/reset-password?token={token}"
        self._send_later(Email(
            to=user.email, subject="Reset your Cuepoint password",
            text=f"Hello {user.display_name},\n\nsomeone (we hope you) asked to reset your password for "
                 f"{tenant.name}. Choose a new one here:\n{link}\n\nReset token: {token}\n"
                 f"The link works once and expires in {minutes} minutes; resetting signs you out everywhere.\n"
                 "If you did not ask, ignore this email: your password stays as it is.\n"))

    def _send_later(self, email: Email) -> None:
        task = asyncio.create_task(send_quietly(self.mailer, email))
        self._mail_tasks.add(task)  # referenced until done, so it is not collected mid-send
        task.add_done_callback(self._mail_tasks.discard)

    async def _open_account_token(self, session: AsyncSession, table: Any, token_hash: bytes, what: str) -> Any:
        row = (await session.execute(select(table).where(table.c.token_hash == token_hash).with_for_update())).first()
        if row is None:
            raise NotFound(f"no such {what} link")
        if row.used_at is not None:
            raise Gone(f"this {what} link was already used")
        if row.expires_at < _now():
            raise Gone(f"this {what} link has expired; ask for a new one")
        return row

    async def reset_password(self, token: str, new_password: str) -> None:
        """Sets the new password, uses up every open reset link of the account, and ends every session."""
        try:
            tenant_id, token_hash = parse_token(token)
        except MalformedToken as error:
            raise Invalid("the reset token is malformed") from error
        async with tenant_transaction(self.sessions, tenant_id) as session:
            row = await self._open_account_token(session, orm.password_reset_tokens, token_hash, "reset")
            user = await self._user(session, row.user_id)
        if user.status != "ACTIVE":
            raise Gone("this account can no longer sign in")
        problems = password_problems(new_password, email=user.email, display_name=user.display_name)
        if problems:
            raise Invalid(f"new password {'; '.join(problems)}",
                          errors=[{"location": "body.new_password", "message": p} for p in problems])
        new_hash = await self.passwords.hash(new_password)
        async with tenant_transaction(self.sessions, tenant_id) as session:
            # Again under the row lock: two confirmations of one link racing each other, one wins.
            await self._open_account_token(session, orm.password_reset_tokens, token_hash, "reset")
            await session.execute(update(orm.password_reset_tokens).where(
                orm.password_reset_tokens.c.user_id == user.id, orm.password_reset_tokens.c.used_at.is_(None))
                .values(used_at=_now()))
            values: dict[str, Any] = {"password_hash": new_hash, "updated_at": _now()}
            if not user.email_verified:  # the link reached the mailbox: the address is proven
                values.update(email_verified=True, email_verified_at=_now())
                await self.outbox.emit(session, events.UserVerified(user_id=user.id), tenant_id=tenant_id,
                                       actor_id=user.id)
            await session.execute(update(orm.users).where(orm.users.c.id == user.id).values(**values))
            await self.outbox.emit(session, events.UserPasswordChanged(user_id=user.id, method="reset"),
                                   tenant_id=tenant_id, actor_id=user.id)
            await self._end_sessions(session, user.id, "password reset", actor_id=user.id)
        await send_quietly(self.mailer, Email(
            to=user.email, subject="Your Cuepoint password was changed",
            text=f"Hello {user.display_name},\n\nyour password was changed with a reset link, and every device "
                 "was signed out. If this was not you, reset it again and tell your organisation's admin.\n"))

    async def request_email_change(self, actor: CurrentUser, *, new_email: str, current_password: str) -> None:
        """Emails a confirmation link to the new address; the old one is told. An address another account
        of the organisation has gets no link (its owner is told instead), with the same answer."""
        new_email = normalize_email(new_email)
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            user = await self._user(session, actor.id)
        if not await self.passwords.verify(user.password_hash, current_password):
            raise Forbidden("the current password is wrong")
        if new_email == normalize_email(user.email):
            raise Invalid("this is already your email address",
                          errors=[{"location": "body.new_email", "message": "this is already your email address"}])
        hours = self.settings.email_change_ttl_hours
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            tenant = (await session.execute(select(orm.tenants).where(orm.tenants.c.id == actor.tenant_id))).one()
            taken = (await session.execute(select(orm.users.c.id).where(
                func.lower(orm.users.c.email) == new_email))).first() is not None
            if not taken:
                token, token_hash = new_token(actor.tenant_id)
                await session.execute(orm.email_change_tokens.insert().values(
                    id=uuid.uuid4(), tenant_id=actor.tenant_id, user_id=actor.id, new_email=new_email,
                    token_hash=token_hash, expires_at=_now() + timedelta(hours=hours), created_at=_now()))
        if taken:
            self._send_later(Email(
                to=new_email, subject="Someone tried to use your address on Cuepoint",
                text=f"Someone with an account at {tenant.name} asked to use this address, which already belongs "
                     "to an account there. Nothing changed. If you forgot your password, ask for a reset link.\n"))
            return
        link = f"{self.settings.public_base_url}/confirm-email-change?token={token}"
        self._send_later(Email(
            to=new_email, subject="Confirm your new email address for Cuepoint",
            text=f"Hello {user.display_name},\n\nconfirm that {new_email} is your new address for {tenant.name}:\n"
                 f"{link}\n\nConfirmation token: {token}\nThe link expires in {hours} hours.\n"))
        self._send_later(Email(
            to=user.email, subject="Your Cuepoint email address is about to change",
            text=f"Hello {user.display_name},\n\nyou asked to change your address to {new_email}. It changes once "
                 "the link sent there is followed. If this was not you, change your password now.\n"))

    async def confirm_email_change(self, token: str) -> Any:
        try:
            tenant_id, token_hash = parse_token(token)
        except MalformedToken as error:
            raise Invalid("the confirmation token is malformed") from error
        async with tenant_transaction(self.sessions, tenant_id) as session:
            row = await self._open_account_token(session, orm.email_change_tokens, token_hash, "confirmation")
            user = await self._user(session, row.user_id)
            if user.status != "ACTIVE":
                raise Gone("this account can no longer sign in")
            try:
                async with session.begin_nested():
                    await session.execute(update(orm.users).where(orm.users.c.id == user.id).values(
                        email=row.new_email, email_verified=True, email_verified_at=_now(), updated_at=_now()))
            except IntegrityError as error:
                raise Conflict("another account of this organisation has this address now") from error
            await session.execute(update(orm.email_change_tokens).where(
                orm.email_change_tokens.c.user_id == user.id, orm.email_change_tokens.c.used_at.is_(None))
                .values(used_at=_now()))
            await self.outbox.emit(session, events.UserEmailChanged(user_id=user.id), tenant_id=tenant_id,
                                   actor_id=user.id)
            user = await self._user(session, user.id)
            await self._publish_profile(session, user)
            return user

    async def _end_sessions(self, session: AsyncSession, user_id: uuid.UUID, reason: str,
                            keep: uuid.UUID | None = None, actor_id: uuid.UUID | None = None) -> None:
        condition = and_(orm.auth_sessions.c.user_id == user_id, orm.auth_sessions.c.revoked_at.is_(None))
        if keep is not None:
            condition = and_(condition, orm.auth_sessions.c.id != keep)
        ended = (await session.execute(update(orm.auth_sessions).where(condition).values(
            revoked_at=_now(), revoke_reason=reason).returning(orm.auth_sessions.c.tenant_id, orm.auth_sessions.c.id))).all()
        if ended:
            await self._announce_ended(session, ended[0].tenant_id, user_id, [row.id for row in ended], reason, actor_id)

    async def _announce_ended(self, session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID,
                              session_ids: list[uuid.UUID], reason: str, actor_id: uuid.UUID | None) -> None:
        """Every service refuses these sessions' access tokens once it hears of this (the tokens are
        otherwise valid until they expire)."""
        await self.outbox.emit(session, events.SessionsRevoked(user_id=user_id, session_ids=session_ids, reason=reason),
                               tenant_id=tenant_id, actor_id=actor_id)

    # --- users ---------------------------------------------------------------------------------

    async def _user(self, session: AsyncSession, user_id: uuid.UUID) -> Any:
        user = (await session.execute(select(orm.users).where(orm.users.c.id == user_id))).first()
        if user is None:
            raise NotFound(f"no user {user_id}")
        return user

    async def get_user(self, actor: CurrentUser, user_id: uuid.UUID) -> Any:
        if user_id != actor.id and not actor.at_least(Role.ADMIN):
            raise NotFound(f"no user {user_id}")
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            return await self._user(session, user_id)

    async def update_profile(self, actor: CurrentUser, *, display_name: str) -> Any:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            await session.execute(update(orm.users).where(orm.users.c.id == actor.id)
                                  .values(display_name=display_name.strip(), updated_at=_now()))
            user = await self._user(session, actor.id)
            await self._publish_profile(session, user)
            return user

    async def _publish_profile(self, session: AsyncSession, user: Any) -> None:
        await self.outbox.emit(session, events.UserProfile(user_id=user.id, email=user.email,
                                                           display_name=user.display_name, role=user.role),
                               tenant_id=user.tenant_id, actor_id=user.id)

    async def list_users(self, actor: CurrentUser, *, query: str | None, role: str | None, status: str | None,
                         limit: int, offset: int) -> tuple[list[Any], int]:
        conditions = []
        order: list[Any] = [orm.users.c.created_at, orm.users.c.id]
        if query:
            # The same expression as the users_search trigram index, so the index serves it.
            haystack = (func.lower(orm.users.c.display_name) + " " + func.lower(orm.users.c.email)).self_group()
            needle = query.strip().lower()
            # Typo-tolerant (pg_trgm): the needle against the most similar words of the haystack
            # (`%>`, word similarity), or a plain substring. Whole-string similarity (`%`) is diluted by a
            # long email: "techer" scores 0.14 against "new teacher new.teacher@school.example".
            conditions.append(or_(haystack.op("%>", is_comparison=True)(needle), haystack.contains(needle)))
            order = [func.word_similarity(needle, haystack).desc(), func.similarity(haystack, needle).desc(),
                     orm.users.c.id]
        if role:
            conditions.append(orm.users.c.role == role)
        if status:
            conditions.append(orm.users.c.status == status)
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            await session.execute(text("SET LOCAL pg_trgm.word_similarity_threshold = 0.5"))
            total = (await session.execute(select(func.count()).select_from(orm.users).where(*conditions))).scalar_one()
            rows = (await session.execute(select(orm.users).where(*conditions).order_by(*order)
                                          .limit(limit).offset(offset))).all()
        return list(rows), total

    async def change_role(self, actor: CurrentUser, user_id: uuid.UUID, role: str) -> Any:
        new_role = Role.parse(role).name
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            user = (await session.execute(select(orm.users).where(orm.users.c.id == user_id).with_for_update())).first()
            if user is None or user.status == "ERASED":
                raise NotFound(f"no user {user_id}")
            if user.role == new_role:
                return user
            if user.role == "ADMIN" and await self._is_last_admin(session, user.id):
                raise Conflict("this is the organisation's last admin; promote another admin first")
            await session.execute(update(orm.users).where(orm.users.c.id == user_id)
                                  .values(role=new_role, updated_at=_now()))
            await self.outbox.emit(session, events.UserRoleChanged(user_id=user_id, old_role=user.role,
                                                                   new_role=new_role),
                                   tenant_id=actor.tenant_id, actor_id=actor.id)
            # Tokens carry the role: end the sessions so the new role applies at once.
            await self._end_sessions(session, user_id, "role changed", actor_id=actor.id)
            user = await self._user(session, user_id)
            await self._publish_profile(session, user)
            return user

    async def _is_last_admin(self, session: AsyncSession, user_id: uuid.UUID) -> bool:
        others = (await session.execute(select(func.count()).select_from(orm.users).where(
            orm.users.c.role == "ADMIN", orm.users.c.status == "ACTIVE", orm.users.c.id != user_id))).scalar_one()
        return others == 0

    async def set_user_status(self, actor: CurrentUser, user_id: uuid.UUID, *, active: bool) -> Any:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            user = (await session.execute(select(orm.users).where(orm.users.c.id == user_id).with_for_update())).first()
            if user is None or user.status == "ERASED":
                raise NotFound(f"no user {user_id}")
            target = "ACTIVE" if active else "DEACTIVATED"
            if user.status == target:
                return user
            if not active and user.role == "ADMIN" and await self._is_last_admin(session, user.id):
                raise Conflict("this is the organisation's last admin; it cannot be deactivated")
            await session.execute(update(orm.users).where(orm.users.c.id == user_id)
                                  .values(status=target, updated_at=_now()))
            event = events.UserReactivated(user_id=user_id) if active else events.UserDeactivated(user_id=user_id)
            await self.outbox.emit(session, event, tenant_id=actor.tenant_id, actor_id=actor.id)
            if not active:
                await self._end_sessions(session, user_id, "account deactivated", actor_id=actor.id)
            return await self._user(session, user_id)

    # --- preferences -----------------------------------------------------------------------------

    async def preferences(self, actor: CurrentUser) -> Preferences:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            row = (await session.execute(select(orm.user_preferences.c.preferences).where(
                orm.user_preferences.c.user_id == actor.id))).first()
        return Preferences.model_validate(row.preferences) if row else Preferences()

    async def update_preferences(self, actor: CurrentUser, patch: dict[str, Any]) -> Preferences:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            row = (await session.execute(select(orm.user_preferences.c.preferences).where(
                orm.user_preferences.c.user_id == actor.id).with_for_update())).first()
            current = Preferences.model_validate(row.preferences) if row else Preferences()
            updated = merge(current, patch)
            document = updated.model_dump(mode="json")
            statement = pg_insert(orm.user_preferences).values(user_id=actor.id, tenant_id=actor.tenant_id,
                                                               preferences=document, updated_at=_now())
            await session.execute(statement.on_conflict_do_update(
                index_elements=[orm.user_preferences.c.user_id], set_={"preferences": document, "updated_at": _now()}))
            await self.outbox.emit(session, events.PreferencesUpdated(user_id=actor.id, preferences=document),
                                   tenant_id=actor.tenant_id, actor_id=actor.id)
        return updated

    async def unsubscribe(self, token: str) -> str:
        """Turns off the one email notification an unsubscribe link names; the name of it."""
        try:
            what = unsubscribe.verify(self.unsubscribe_key, token)
        except MalformedToken as error:
            raise Invalid(str(error)) from error
        async with tenant_transaction(self.sessions, what.tenant_id) as session:
            user = (await session.execute(select(orm.users).where(orm.users.c.id == what.user_id))).first()
            if user is None or user.status == "ERASED":
                raise NotFound("no such subscriber")
        actor = CurrentUser(id=what.user_id, tenant_id=what.tenant_id, role=Role.parse(user.role))
        await self.update_preferences(actor, {"notifications": {what.notification: False}})
        return what.notification

    # --- system configuration ----------------------------------------------------------------------

    async def _config_value(self, session: AsyncSession, tenant_id: uuid.UUID, key: str) -> Any:
        tenant_value = (await session.execute(select(orm.system_configs.c.value).where(
            orm.system_configs.c.tenant_id == tenant_id, orm.system_configs.c.key == key))).scalar_one_or_none()
        platform_value = (await session.execute(select(orm.platform_configs.c.value).where(
            orm.platform_configs.c.key == key))).scalar_one_or_none()
        return resolve(key, tenant_value, platform_value)

    async def list_configs(self, actor: CurrentUser) -> list[dict[str, Any]]:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            tenant = {row.key: row.value for row in (await session.execute(select(orm.system_configs))).all()}
            platform = {row.key: row.value for row in (await session.execute(select(orm.platform_configs))).all()}
        result = []
        for key, entry in CONFIG_KEYS.items():
            source = "tenant" if key in tenant else "platform" if key in platform else "default"
            value = tenant.get(key, platform.get(key, entry.to_json(entry.default)))
            result.append({"key": key, "value": value, "source": source, "default": entry.to_json(entry.default),
                           "description": entry.description})
        return result

    def _validated(self, key: str, value: Any) -> Any:
        entry = CONFIG_KEYS.get(key)
        if entry is None:
            raise NotFound(f"no config key {key!r}; known keys: {', '.join(CONFIG_KEYS)}")
        try:
            return entry.to_json(entry.validate(value))
        except ValidationError as error:
            raise Invalid(f"{key}: {error.errors()[0]['msg']}") from error

    async def set_config(self, actor: CurrentUser, key: str, value: Any, *, platform: bool = False) -> None:
        stored = None if value is None else self._validated(key, value)
        if value is None and key not in CONFIG_KEYS:
            self._validated(key, None)
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            if platform:
                table = orm.platform_configs
                condition = table.c.key == key
                values = {"key": key}
            else:
                table = orm.system_configs
                condition = and_(table.c.tenant_id == actor.tenant_id, table.c.key == key)
                values = {"key": key, "tenant_id": actor.tenant_id}
            previous = (await session.execute(select(table.c.value).where(condition))).scalar_one_or_none()
            if stored is None:
                await session.execute(table.delete().where(condition))
            else:
                statement = pg_insert(table).values(**values, value=stored, updated_by_id=actor.id, updated_at=_now())
                await session.execute(statement.on_conflict_do_update(
                    index_elements=list(table.primary_key.columns),
                    set_={"value": stored, "updated_by_id": actor.id, "updated_at": _now()}))
            scope = None if platform else actor.tenant_id
            await self.outbox.emit(session, events.SystemConfigChanged(
                config_id=f"{scope or 'platform'}:{key}", key=key, value=stored, scope_tenant_id=scope,
                is_default=stored is None, previous_value=previous), tenant_id=actor.tenant_id, actor_id=actor.id)

    # --- GDPR ------------------------------------------------------------------------------------------

    def _may_manage(self, actor: CurrentUser, user_id: uuid.UUID) -> None:
        if actor.id != user_id and not actor.at_least(Role.ADMIN):
            raise NotFound(f"no user {user_id}")

    async def export(self, actor: CurrentUser, user_id: uuid.UUID) -> dict[str, Any]:
        self._may_manage(actor, user_id)
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            user = await self._user(session, user_id)
            preferences = (await session.execute(select(orm.user_preferences.c.preferences).where(
                orm.user_preferences.c.user_id == user_id))).scalar_one_or_none()
            sessions = (await session.execute(select(orm.auth_sessions).where(
                orm.auth_sessions.c.user_id == user_id).order_by(orm.auth_sessions.c.created_at))).all()
            invited = (await session.execute(select(orm.invitations).where(
                orm.invitations.c.invited_by_id == user_id))).all()
            await self.outbox.emit(session, events.UserDataExported(user_id=user_id), tenant_id=actor.tenant_id,
                                   actor_id=actor.id)
        profile = {k: v for k, v in user._mapping.items() if k != "password_hash"}
        return {
            "exported_at": _now(),
            "user": profile,
            "preferences": preferences,
            "sessions": [{k: v for k, v in s._mapping.items()} for s in sessions],
            "invitations_sent": [{k: v for k, v in i._mapping.items() if k != "token_hash"} for i in invited],
        }

    async def erase(self, actor: CurrentUser, user_id: uuid.UUID) -> None:
        self._may_manage(actor, user_id)
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            user = (await session.execute(select(orm.users).where(orm.users.c.id == user_id).with_for_update())).first()
            if user is None or user.status == "ERASED":
                raise NotFound(f"no user {user_id}")
            if user.role == "ADMIN" and await self._is_last_admin(session, user.id):
                raise Conflict("this is the organisation's last admin; promote another admin first")
            await session.execute(update(orm.users).where(orm.users.c.id == user_id).values(
                email=f"erased-{user_id}@erased.invalid", display_name="Erased user", password_hash="!",
                status="ERASED", erased_at=_now(), updated_at=_now(), last_login_at=None))
            await session.execute(orm.user_preferences.delete().where(orm.user_preferences.c.user_id == user_id))
            for tokens in (orm.email_verification_tokens, orm.password_reset_tokens, orm.email_change_tokens):
                await session.execute(tokens.delete().where(tokens.c.user_id == user_id))
            await self._end_sessions(session, user_id, "account erased", actor_id=actor.id)
            await session.execute(update(orm.auth_sessions).where(orm.auth_sessions.c.user_id == user_id).values(
                user_agent=None, ip_address=None, device_id=None))
            await session.execute(update(orm.invitations).where(orm.invitations.c.email == user.email)
                                  .values(email=f"erased-{user_id}@erased.invalid"))
            await self.outbox.emit(session, events.UserErased(user_id=user_id), tenant_id=actor.tenant_id,
                                   actor_id=actor.id)
            # The outbox keeps published rows a while (the relay purges them later), and every profile
            # snapshot of the user holds their email and name: they go now, published or not, since
            # the tombstone that follows supersedes each of them for every consumer.
            await session.execute(text(f'DELETE FROM "{self.outbox.schema}".outbox WHERE topic = :topic AND key = :key'),
                                  {"topic": self.outbox.topic_prefix + USER_PROFILES.name, "key": str(user_id)})
            await self.outbox.tombstone(session, USER_PROFILES.name, str(user_id), tenant_id=actor.tenant_id)

    # --- bootstrap --------------------------------------------------------------------------------------

    async def ensure_user(self, *, tenant_id: uuid.UUID, email: str, password: str, display_name: str, role: str,
                          platform_admin: bool = False) -> tuple[Any, bool]:
        """Creates a verified user unless the email exists (idempotent seeding); (user, created)."""
        email = normalize_email(email)
        async with tenant_transaction(self.sessions, tenant_id) as session:
            existing = (await session.execute(select(orm.users).where(func.lower(orm.users.c.email) == email))).first()
            if existing:
                return existing, False
        password_hash = await self.passwords.hash(password)
        async with tenant_transaction(self.sessions, tenant_id) as session:
            user_id = uuid.uuid4()
            await session.execute(orm.users.insert().values(
                id=user_id, tenant_id=tenant_id, email=email, display_name=display_name, password_hash=password_hash,
                role=role, is_platform_admin=platform_admin, status="ACTIVE", email_verified=True,
                email_verified_at=_now(), created_at=_now(), updated_at=_now()))
            await session.execute(orm.user_preferences.insert().values(
                user_id=user_id, tenant_id=tenant_id, preferences=Preferences().model_dump(mode="json"),
                updated_at=_now()))
            await self.outbox.emit(session, events.UserRegistered(user_id=user_id, role=role), tenant_id=tenant_id)
            await self.outbox.emit(session, events.UserVerified(user_id=user_id), tenant_id=tenant_id)
            user = await self._user(session, user_id)
            await self._publish_profile(session, user)
            return user, True

    async def ensure_tenant(self, *, slug: str, name: str, is_platform: bool = False) -> Any:
        async with self.sessions() as session:
            tenant = await self._tenant_by_slug(session, slug)
        if tenant is not None:
            return tenant
        try:
            return await self.create_tenant(None, slug=slug, name=name, is_platform=is_platform)
        except Conflict:
            async with self.sessions() as session:
                return await self._tenant_by_slug(session, slug)
