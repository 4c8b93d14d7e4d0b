"""Users, roles, and what each may do to others."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from cuepoint.runtime.actor import CurrentUser, Role
from cuepoint.runtime.errors import Conflict, Forbidden, NotFound

ACTIVE = "ACTIVE"
DEACTIVATED = "DEACTIVATED"
ERASED = "ERASED"

LAST_ADMIN_REMOVED = "this is the organisation's last admin; promote another admin first"
LAST_ADMIN_DEACTIVATED = "this is the organisation's last admin; it cannot be deactivated"


@dataclass(frozen=True)
class User:
    id: UUID
    tenant_id: UUID
    email: str
    display_name: str
    password_hash: str
    role: str
    is_platform_admin: bool
    status: str
    email_verified: bool
    email_verified_at: datetime | None
    last_login_at: datetime | None
    erased_at: datetime | None
    created_at: datetime
    updated_at: datetime


def may_invite(inviter: Role, invitee: Role) -> bool:
    """Admins invite teachers and students; teachers invite students."""
    if inviter is Role.ADMIN:
        return invitee in (Role.TEACHER, Role.STUDENT)
    if inviter is Role.TEACHER:
        return invitee is Role.STUDENT
    return False


def ensure_may_invite(inviter: Role, invitee: Role) -> None:
    if not may_invite(inviter, invitee):
        raise Forbidden(f"a {inviter.name.lower()} cannot invite a {invitee.name.lower()}")


def ensure_self_or_admin(actor: CurrentUser, user_id: UUID) -> None:
    """Users see and manage themselves; admins everyone of their tenant. Anyone else is told the user
    does not exist (not 403: the answer must not confirm that the id is someone's)."""
    if actor.id != user_id and not actor.at_least(Role.ADMIN):
        raise NotFound(f"no user {user_id}")


def ensure_exists(user: User | None, user_id: UUID) -> User:
    """An erased user is gone for every use case that changes a user."""
    if user is None or user.status == ERASED:
        raise NotFound(f"no user {user_id}")
    return user


def ensure_not_last_admin(user: User, other_active_admins: int, why: str = LAST_ADMIN_REMOVED) -> None:
    """A tenant always keeps an active admin: the last one can be neither demoted, deactivated nor erased."""
    if user.role == Role.ADMIN.name and other_active_admins == 0:
        raise Conflict(why)


def erased_email(user_id: UUID) -> str:
    """What an erased user's address becomes: unique, and no mailbox's."""
    return f"erased-{user_id}@erased.invalid"


def normalize_email(email: str) -> str:
    return email.strip().lower()


def with_article(noun: str) -> str:
    """"a teacher", "an admin": the article by the noun's first letter (enough for role names)."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"
