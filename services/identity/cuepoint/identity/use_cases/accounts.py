"""Accounts: registering (alone, or with an invitation), inviting, and proving an email address."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from cuepoint.contracts import identity as events
from cuepoint.runtime.auth import CurrentUser, Role
from cuepoint.runtime.errors import Conflict, Invalid, NotFound, TooManyRequests
from cuepoint.runtime.unit_of_work import UnitsOfWork

from ..domain import tenants, users
from ..domain.accounts import Invitation
from ..domain.passwords import password_problems
from ..domain.preferences import Preferences
from ..domain.tenants import Tenant
from ..domain.tokens import MalformedToken, ensure_usable, new_token, parse_token
from ..domain.users import ACTIVE, User, normalize_email, with_article
from ..mail import Email, OutgoingMail
from ..security import Passwords
from ..settings import IdentitySettings
from ..unit_of_work import IdentityUnitOfWork
from . import now
from .users import publish_profile, user_of


@dataclass(frozen=True)
class Register:
    tenant_slug: str
    email: str
    password: str
    display_name: str
    invitation_token: str | None = None


@dataclass(frozen=True)
class Invite:
    actor: CurrentUser
    email: str
    role: str


@dataclass(frozen=True)
class VerifyEmail:
    token: str


@dataclass(frozen=True)
class ResendVerification:
    tenant_slug: str
    email: str


@dataclass(frozen=True)
class EnsureUser:
    """A verified account made by seeding or an operations command, not by its owner."""

    tenant_id: uuid.UUID
    email: str
    password: str
    display_name: str
    role: str
    platform_admin: bool = False


async def register(command: Register, units: UnitsOfWork[IdentityUnitOfWork], *, passwords: Passwords,
                   mail: OutgoingMail, settings: IdentitySettings) -> User | None:
    """The new account; None when, without an invitation, the email already has an account here: its
    owner is told by email instead, and the caller answers as for a new account (the answer must not
    say which addresses have accounts; issue 16, finding 7)."""
    email = normalize_email(command.email)
    problems = password_problems(command.password, email=email, display_name=command.display_name)
    if problems:
        raise Invalid(f"password {'; '.join(problems)}", errors=[{"location": "body.password", "message": p}
                                                                  for p in problems])
    password_hash = await passwords.hash(command.password)
    async with units(None) as uow:
        tenant = tenants.ensure_open_for_registration(
            await uow.tenants.by_slug(tenants.normalize_slug(command.tenant_slug)), command.tenant_slug)
    async with units(tenant.id) as uow:
        invitation = None
        if command.invitation_token:
            invitation = await _open_invitation(uow, tenant.id, command.invitation_token)
            if normalize_email(invitation.email) != email:
                raise Invalid("this invitation is for another email address")
        elif await uow.users.by_email(email) is not None:
            mail.send_later(Email(
                to=email, subject="Someone tried to create a Cuepoint account with your address",
                text=f"Someone asked to create an account at {tenant.name} with this address, which already "
                     "has one there. Nothing changed. If it was you, sign in; if you forgot your password, "
                     f"ask for a reset link at {settings.public_base_url}/forgot-password.\n"))
            return None
        user, verification = await _add_account(uow, tenant, email, password_hash, command.display_name, invitation,
                                                settings)
    if verification:
        mail.send_later(verification)  # in the background, as the note to a known address: alike in time
    return user


async def _add_account(uow: IdentityUnitOfWork, tenant: Tenant, email: str, password_hash: str, display_name: str,
                       invitation: Invitation | None, settings: IdentitySettings) -> tuple[User, Email | None]:
    """An invited account has the invitation's role and a proven address; any other is a student's
    whose address is still to verify (the email that does that is returned, to send once committed)."""
    role, invited_by, verified = "STUDENT", None, False
    if invitation is not None:
        role, invited_by, verified = invitation.role, invitation.invited_by_id, True
    user_id = uuid.uuid4()
    await uow.users.add(User(
        id=user_id, tenant_id=tenant.id, email=email, display_name=display_name.strip(),
        password_hash=password_hash, role=role, is_platform_admin=False, status=ACTIVE,
        email_verified=verified, email_verified_at=now() if verified else None, last_login_at=None,
        erased_at=None, created_at=now(), updated_at=now()))
    await uow.preferences.save(user_id, tenant.id, Preferences().model_dump(mode="json"))
    if invitation is not None:
        await uow.invitations.accept(invitation.id, user_id)
    await uow.emit(events.UserRegistered(user_id=user_id, role=role, invited_by_id=invited_by), actor_id=user_id)
    user = await user_of(uow, user_id)
    await publish_profile(uow, user)
    if verified:
        await uow.emit(events.UserVerified(user_id=user_id), actor_id=user_id)
        return user, None
    return user, await _new_verification(uow, user, settings)


async def invite(command: Invite, units: UnitsOfWork[IdentityUnitOfWork], *, mail: OutgoingMail,
                 settings: IdentitySettings) -> Invitation:
    actor = command.actor
    invitee = Role.parse(command.role)
    users.ensure_may_invite(actor.role, invitee)
    email = normalize_email(command.email)
    async with units(actor.tenant_id) as uow:
        if await uow.users.by_email(email) is not None:
            raise Conflict("an account with this email already exists in this organisation")
        tenant = await uow.tenants.get(actor.tenant_id)
        assert tenant is not None
        invitation, message = await create_invitation(uow, tenant, email, invitee, actor.id, settings)
    await mail.send(message)
    return invitation


async def create_invitation(uow: IdentityUnitOfWork, tenant: Tenant, email: str, role: Role, invited_by: uuid.UUID,
                            settings: IdentitySettings) -> tuple[Invitation, Email]:
    """The invitation, announced, and the email that carries it (to send once committed)."""
    token, token_hash = new_token(tenant.id)
    invitation_id = uuid.uuid4()
    invitation = await uow.invitations.add(
        invitation_id=invitation_id, tenant_id=tenant.id, email=email, role=role.name, invited_by_id=invited_by,
        token_hash=token_hash, expires_at=now() + timedelta(days=settings.invitation_ttl_days))
    await uow.emit(events.InvitationSent(invitation_id=invitation_id, role=role.name,
                                         expires_at=invitation.expires_at), tenant_id=tenant.id, actor_id=invited_by)
    link = f"{settings.public_base_url}/accept-invitation?tenant={tenant.slug}&token={token}"
    return invitation, Email(
        to=email, subject=f"You are invited to {tenant.name} on Cuepoint",
        text=f"You have been invited to join {tenant.name} as {with_article(role.name.lower())}.\n\n"
             f"Accept the invitation and choose a password:\n{link}\n\nInvitation token: {token}\n"
             f"The link expires in {settings.invitation_ttl_days} days.\n")


async def _open_invitation(uow: IdentityUnitOfWork, tenant_id: uuid.UUID, token: str) -> Invitation:
    try:
        token_tenant, token_hash = parse_token(token)
    except MalformedToken as error:
        raise Invalid("the invitation token is malformed") from error
    invitation = await uow.invitations.by_token(token_hash)
    if token_tenant != tenant_id or invitation is None:
        raise NotFound("no such invitation")
    ensure_usable(invitation.accepted_at, invitation.expires_at, now(), what="invitation")
    return invitation


async def _new_verification(uow: IdentityUnitOfWork, user: User, settings: IdentitySettings) -> Email:
    token, token_hash = new_token(user.tenant_id)
    await uow.verifications.add(
        token_id=uuid.uuid4(), tenant_id=user.tenant_id, user_id=user.id, token_hash=token_hash,
        expires_at=now() + timedelta(hours=settings.verification_token_ttl_hours))
    link = f"{settings.public_base_url}/verify-email?token={token}"
    return Email(to=user.email, subject="Confirm your email address for Cuepoint",
                 text=f"Hello {user.display_name},\n\nconfirm your email address:\n{link}\n\n"
                      f"Verification token: {token}\n"
                      f"The link expires in {settings.verification_token_ttl_hours} hours.\n")


async def verify_email(command: VerifyEmail, units: UnitsOfWork[IdentityUnitOfWork]) -> User:
    try:
        tenant_id, token_hash = parse_token(command.token)
    except MalformedToken as error:
        raise Invalid("the verification token is malformed") from error
    async with units(tenant_id) as uow:
        row = await uow.verifications.by_hash(token_hash)
        if row is None:
            raise NotFound("no such verification token")
        ensure_usable(row.used_at, row.expires_at, now(), what="verification link")
        await uow.verifications.use(row.id)
        user = await user_of(uow, row.user_id)
        if not user.email_verified:
            await uow.users.update(user.id, email_verified=True, email_verified_at=now(), updated_at=now())
            await uow.emit(events.UserVerified(user_id=user.id), actor_id=user.id)
        return await user_of(uow, user.id)


async def resend_verification(command: ResendVerification, units: UnitsOfWork[IdentityUnitOfWork], *,
                              mail: OutgoingMail, settings: IdentitySettings) -> None:
    """Always succeeds from the caller's view, so it cannot reveal who has an account."""
    async with units(None) as uow:
        tenant = await uow.tenants.by_slug(tenants.normalize_slug(command.tenant_slug))
    if tenant is None:
        return
    async with units(tenant.id) as uow:
        user = await uow.users.by_email(normalize_email(command.email))
        if user is None or user.email_verified or user.status != ACTIVE:
            return
        recent = await uow.verifications.sent_since(user.id, now() - timedelta(hours=1))
        if recent >= settings.verification_resend_per_hour:
            raise TooManyRequests("verification emails are limited; try again later", retry_after=3600)
        pending = await _new_verification(uow, user, settings)
    await mail.send(pending)


async def ensure_user(command: EnsureUser, units: UnitsOfWork[IdentityUnitOfWork], *,
                      passwords: Passwords) -> tuple[User, bool]:
    """Creates a verified user unless the email exists (idempotent seeding); (user, created)."""
    email = normalize_email(command.email)
    async with units(command.tenant_id) as uow:
        existing = await uow.users.by_email(email)
    if existing:
        return existing, False
    password_hash = await passwords.hash(command.password)
    async with units(command.tenant_id) as uow:
        user_id = uuid.uuid4()
        await uow.users.add(User(
            id=user_id, tenant_id=command.tenant_id, email=email, display_name=command.display_name,
            password_hash=password_hash, role=command.role, is_platform_admin=command.platform_admin, status=ACTIVE,
            email_verified=True, email_verified_at=now(), last_login_at=None, erased_at=None, created_at=now(),
            updated_at=now()))
        await uow.preferences.save(user_id, command.tenant_id, Preferences().model_dump(mode="json"))
        await uow.emit(events.UserRegistered(user_id=user_id, role=command.role))
        await uow.emit(events.UserVerified(user_id=user_id))
        user = await user_of(uow, user_id)
        await publish_profile(uow, user)
    return user, True
