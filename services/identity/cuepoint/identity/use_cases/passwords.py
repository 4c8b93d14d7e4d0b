"""Passwords and email addresses: changing the password (knowing it), resetting it and changing the
address (both proven by a link to the mailbox)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cuepoint.contracts import identity as events
from cuepoint.runtime.auth import CurrentUser
from cuepoint.runtime.errors import Forbidden, Gone, Invalid, NotFound
from cuepoint.runtime.unit_of_work import UnitsOfWork

from ..domain import tenants
from ..domain.accounts import AccountToken
from ..domain.passwords import password_problems
from ..domain.tokens import MalformedToken, ensure_usable, new_token, parse_token
from ..domain.users import ACTIVE, User, normalize_email
from ..mail import Email, OutgoingMail
from ..repositories import AccountTokens
from ..security import Passwords
from ..settings import IdentitySettings
from ..unit_of_work import IdentityUnitOfWork
from . import now
from .sessions import end_sessions
from .users import publish_profile, user_of


@dataclass(frozen=True)
class ChangePassword:
    actor: CurrentUser
    current_password: str
    new_password: str


@dataclass(frozen=True)
class RequestPasswordReset:
    tenant_slug: str
    email: str


@dataclass(frozen=True)
class ResetPassword:
    token: str
    new_password: str


@dataclass(frozen=True)
class RequestEmailChange:
    actor: CurrentUser
    new_email: str
    current_password: str


@dataclass(frozen=True)
class ConfirmEmailChange:
    token: str


async def change_password(command: ChangePassword, units: UnitsOfWork[IdentityUnitOfWork], *,
                          passwords: Passwords) -> None:
    """The new password; the actor's other sessions end."""
    actor = command.actor
    async with units(actor.tenant_id) as uow:
        user = await user_of(uow, actor.id)
    if not await passwords.verify(user.password_hash, command.current_password):
        raise Forbidden("the current password is wrong")
    problems = password_problems(command.new_password, email=user.email, display_name=user.display_name)
    if problems:
        raise Invalid(f"new password {'; '.join(problems)}")
    new_hash = await passwords.hash(command.new_password)
    async with units(actor.tenant_id) as uow:
        await uow.users.update(actor.id, password_hash=new_hash, updated_at=now())
        await end_sessions(uow, actor.id, "password changed", keep=actor.session_id, actor_id=actor.id)
        await uow.emit(events.UserPasswordChanged(user_id=actor.id, method="changed"), actor_id=actor.id)


async def request_password_reset(command: RequestPasswordReset, units: UnitsOfWork[IdentityUnitOfWork], *,
                                 mail: OutgoingMail, settings: IdentitySettings) -> None:
    """Emails a reset link if the account exists. The caller always gets the same answer, and the
    email goes out in the background, so neither the answer nor its timing tells who has an account;
    past the hourly limit no more links are sent (silently, for the same reason)."""
    async with units(None) as uow:
        tenant = await uow.tenants.by_slug(tenants.normalize_slug(command.tenant_slug))
    if tenant is None or tenant.status != tenants.ACTIVE:
        return
    minutes = settings.password_reset_ttl_minutes
    async with units(tenant.id) as uow:
        user = await uow.users.by_email(normalize_email(command.email))
        if user is None or user.status != ACTIVE:
            return
        recent = await uow.password_resets.sent_since(user.id, now() - timedelta(hours=1))
        if recent >= settings.password_reset_per_hour:
            return
        token, token_hash = new_token(tenant.id)
        await uow.password_resets.add(token_id=uuid.uuid4(), tenant_id=tenant.id, user_id=user.id,
                                      token_hash=token_hash, expires_at=now() + timedelta(minutes=minutes))
    link = f"{settings.public_base_url}/reset-password?token={token}"
    mail.send_later(Email(
        to=user.email, subject="Reset your Cuepoint password",
        text=f"Hello {user.display_name},\n\nsomeone (we hope you) asked to reset your password for "
             f"{tenant.name}. Choose a new one here:\n{link}\n\nReset token: {token}\n"
             f"The link works once and expires in {minutes} minutes; resetting signs you out everywhere.\n"
             "If you did not ask, ignore this email: your password stays as it is.\n"))


async def _open_link(tokens: AccountTokens, token_hash: bytes, what: str) -> AccountToken:
    row = await tokens.by_hash(token_hash)
    if row is None:
        raise NotFound(f"no such {what} link")
    ensure_usable(row.used_at, row.expires_at, now(), what=f"{what} link")
    return row


async def reset_password(command: ResetPassword, units: UnitsOfWork[IdentityUnitOfWork], *, passwords: Passwords,
                         mail: OutgoingMail) -> None:
    """Sets the new password, uses up every open reset link of the account, and ends every session."""
    try:
        tenant_id, token_hash = parse_token(command.token)
    except MalformedToken as error:
        raise Invalid("the reset token is malformed") from error
    async with units(tenant_id) as uow:
        row = await _open_link(uow.password_resets, token_hash, "reset")
        user = await user_of(uow, row.user_id)
    if user.status != ACTIVE:
        raise Gone("this account can no longer sign in")
    problems = password_problems(command.new_password, email=user.email, display_name=user.display_name)
    if problems:
        raise Invalid(f"new password {'; '.join(problems)}",
                      errors=[{"location": "body.new_password", "message": p} for p in problems])
    new_hash = await passwords.hash(command.new_password)
    async with units(tenant_id) as uow:
        # Again under the row lock: two confirmations of one link racing each other, one wins.
        await _open_link(uow.password_resets, token_hash, "reset")
        await uow.password_resets.use_all_of(user.id)
        values: dict[str, Any] = {"password_hash": new_hash, "updated_at": now()}
        if not user.email_verified:  # the link reached the mailbox: the address is proven
            values.update(email_verified=True, email_verified_at=now())
            await uow.emit(events.UserVerified(user_id=user.id), actor_id=user.id)
        await uow.users.update(user.id, **values)
        await uow.emit(events.UserPasswordChanged(user_id=user.id, method="reset"), actor_id=user.id)
        await end_sessions(uow, user.id, "password reset", actor_id=user.id)
    await mail.send(Email(
        to=user.email, subject="Your Cuepoint password was changed",
        text=f"Hello {user.display_name},\n\nyour password was changed with a reset link, and every device "
             "was signed out. If this was not you, reset it again and tell your organisation's admin.\n"))


async def request_email_change(command: RequestEmailChange, units: UnitsOfWork[IdentityUnitOfWork], *,
                               passwords: Passwords, mail: OutgoingMail, settings: IdentitySettings) -> None:
    """Emails a confirmation link to the new address; the old one is told. An address another account
    of the organisation has gets no link (its owner is told instead), with the same answer."""
    actor = command.actor
    new_email = normalize_email(command.new_email)
    async with units(actor.tenant_id) as uow:
        user = await user_of(uow, actor.id)
    if not await passwords.verify(user.password_hash, command.current_password):
        raise Forbidden("the current password is wrong")
    if new_email == normalize_email(user.email):
        raise Invalid("this is already your email address",
                      errors=[{"location": "body.new_email", "message": "this is already your email address"}])
    hours = settings.email_change_ttl_hours
    async with units(actor.tenant_id) as uow:
        tenant = await uow.tenants.get(actor.tenant_id)
        assert tenant is not None
        taken = await uow.users.by_email(new_email) is not None
        if not taken:
            token, token_hash = new_token(actor.tenant_id)
            await uow.email_changes.add(token_id=uuid.uuid4(), tenant_id=actor.tenant_id, user_id=actor.id,
                                        new_email=new_email, token_hash=token_hash,
                                        expires_at=now() + timedelta(hours=hours))
    if taken:
        mail.send_later(Email(
            to=new_email, subject="Someone tried to use your address on Cuepoint",
            text=f"Someone with an account at {tenant.name} asked to use this address, which already belongs "
                 "to an account there. Nothing changed. If you forgot your password, ask for a reset link.\n"))
        return
    link = f"{settings.public_base_url}/confirm-email-change?token={token}"
    mail.send_later(Email(
        to=new_email, subject="Confirm your new email address for Cuepoint",
        text=f"Hello {user.display_name},\n\nconfirm that {new_email} is your new address for {tenant.name}:\n"
             f"{link}\n\nConfirmation token: {token}\nThe link expires in {hours} hours.\n"))
    mail.send_later(Email(
        to=user.email, subject="Your Cuepoint email address is about to change",
        text=f"Hello {user.display_name},\n\nyou asked to change your address to {new_email}. It changes once "
             "the link sent there is followed. If this was not you, change your password now.\n"))


async def confirm_email_change(command: ConfirmEmailChange, units: UnitsOfWork[IdentityUnitOfWork]) -> User:
    try:
        tenant_id, token_hash = parse_token(command.token)
    except MalformedToken as error:
        raise Invalid("the confirmation token is malformed") from error
    async with units(tenant_id) as uow:
        row = await _open_link(uow.email_changes, token_hash, "confirmation")
        user = await user_of(uow, row.user_id)
        if user.status != ACTIVE:
            raise Gone("this account can no longer sign in")
        assert row.new_email is not None
        await uow.users.change_email(user.id, row.new_email)
        await uow.email_changes.use_all_of(user.id)
        await uow.emit(events.UserEmailChanged(user_id=user.id), actor_id=user.id)
        user = await user_of(uow, user.id)
        await publish_profile(uow, user)
        return user
