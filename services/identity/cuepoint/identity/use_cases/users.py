"""Users: their profile, role and status (admins), and the GDPR rights (export, erasure)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from cuepoint.contracts import identity as events
from cuepoint.contracts.topics import USER_PROFILES
from cuepoint.runtime.auth import CurrentUser, Role
from cuepoint.runtime.errors import NotFound

from ..domain import users
from ..domain.users import ACTIVE, DEACTIVATED, ERASED, User
from ..unit_of_work import IdentityUnitOfWork
from . import now
from .sessions import end_sessions


@dataclass(frozen=True)
class UpdateProfile:
    actor: CurrentUser
    display_name: str


@dataclass(frozen=True)
class ChangeRole:
    actor: CurrentUser
    user_id: UUID
    role: str


@dataclass(frozen=True)
class SetUserStatus:
    actor: CurrentUser
    user_id: UUID
    active: bool


@dataclass(frozen=True)
class ExportUser:
    actor: CurrentUser
    user_id: UUID


@dataclass(frozen=True)
class EraseUser:
    actor: CurrentUser
    user_id: UUID


@dataclass(frozen=True)
class UserExport:
    """Everything identity holds about a user, password hash and token hashes left out."""

    exported_at: datetime
    user: dict[str, Any]
    preferences: dict[str, Any] | None
    sessions: list[dict[str, Any]]
    invitations_sent: list[dict[str, Any]]


async def user_of(uow: IdentityUnitOfWork, user_id: UUID) -> User:
    user = await uow.users.get(user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


async def publish_profile(uow: IdentityUnitOfWork, user: User) -> None:
    """The user's personal data, for the services that show names, on the compacted profiles topic."""
    await uow.emit(events.UserProfile(user_id=user.id, email=user.email, display_name=user.display_name,
                                      role=user.role), tenant_id=user.tenant_id, actor_id=user.id)


async def update_profile(command: UpdateProfile, uow: IdentityUnitOfWork) -> User:
    actor = command.actor
    await uow.users.update(actor.id, display_name=command.display_name.strip(), updated_at=now())
    user = await user_of(uow, actor.id)
    await publish_profile(uow, user)
    return user


async def change_role(command: ChangeRole, uow: IdentityUnitOfWork) -> User:
    actor, user_id = command.actor, command.user_id
    new_role = Role.parse(command.role).name
    user = users.ensure_exists(await uow.users.get(user_id, lock=True), user_id)
    if user.role == new_role:
        return user
    users.ensure_not_last_admin(user, await uow.users.other_active_admins(user.id))
    await uow.users.update(user_id, role=new_role, updated_at=now())
    await uow.emit(events.UserRoleChanged(user_id=user_id, old_role=user.role, new_role=new_role),
                   actor_id=actor.id)
    # Tokens carry the role: end the sessions so the new role applies at once.
    await end_sessions(uow, user_id, "role changed", actor_id=actor.id)
    user = await user_of(uow, user_id)
    await publish_profile(uow, user)
    return user


async def set_user_status(command: SetUserStatus, uow: IdentityUnitOfWork) -> User:
    actor, user_id, active = command.actor, command.user_id, command.active
    user = users.ensure_exists(await uow.users.get(user_id, lock=True), user_id)
    target = ACTIVE if active else DEACTIVATED
    if user.status == target:
        return user
    if not active:
        users.ensure_not_last_admin(user, await uow.users.other_active_admins(user.id), users.LAST_ADMIN_DEACTIVATED)
    await uow.users.update(user_id, status=target, updated_at=now())
    event = events.UserReactivated(user_id=user_id) if active else events.UserDeactivated(user_id=user_id)
    await uow.emit(event, actor_id=actor.id)
    if not active:
        await end_sessions(uow, user_id, "account deactivated", actor_id=actor.id)
    return await user_of(uow, user_id)


async def export_user(command: ExportUser, uow: IdentityUnitOfWork) -> UserExport:
    actor, user_id = command.actor, command.user_id
    users.ensure_self_or_admin(actor, user_id)
    export = await identity_part(uow, user_id)
    await uow.emit(events.UserDataExported(user_id=user_id), actor_id=actor.id)
    return export


async def identity_part(uow: IdentityUnitOfWork, user_id: UUID) -> UserExport:
    """identity's part of a person's export (also the whole of GET /v1/users/me/export)."""
    user = await user_of(uow, user_id)
    preferences = await uow.preferences.get(user_id)
    auth_sessions = await uow.auth_sessions.of_user(user_id)
    invited = await uow.invitations.sent_by(user_id)
    return UserExport(
        exported_at=now(),
        user={k: v for k, v in asdict(user).items() if k != "password_hash"},
        preferences=preferences,
        sessions=[asdict(s) for s in auth_sessions],
        invitations_sent=[{k: v for k, v in asdict(i).items() if k != "token_hash"} for i in invited],
    )


async def erase_user(command: EraseUser, uow: IdentityUnitOfWork) -> None:
    actor, user_id = command.actor, command.user_id
    users.ensure_self_or_admin(actor, user_id)
    user = users.ensure_exists(await uow.users.get(user_id, lock=True), user_id)
    users.ensure_not_last_admin(user, await uow.users.other_active_admins(user.id))
    await uow.users.update(user_id, email=users.erased_email(user_id), display_name="Erased user",
                           password_hash="!", status=ERASED, erased_at=now(), updated_at=now(), last_login_at=None)
    await uow.preferences.delete(user_id)
    await uow.exports.delete_of(user_id)  # their archives, the sealed parts and the keys that open them
    for tokens in (uow.verifications, uow.password_resets, uow.email_changes):
        await tokens.delete_of(user_id)
    await end_sessions(uow, user_id, "account erased", actor_id=actor.id)
    await uow.auth_sessions.forget_clients(user_id)
    await uow.invitations.readdress(user.email, users.erased_email(user_id))
    await uow.emit(events.UserErased(user_id=user_id), actor_id=actor.id)
    # The outbox keeps published rows a while (the relay purges them later), and every profile
    # snapshot of the user holds their email and name: they go now, published or not, since
    # the tombstone that follows supersedes each of them for every consumer.
    await uow.profile_snapshots.delete(user_id)
    await uow.tombstone(USER_PROFILES.name, str(user_id))
