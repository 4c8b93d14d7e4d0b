"""Roles and what each may do to others."""

from __future__ import annotations

from cuepoint.runtime.auth import Role


def may_invite(inviter: Role, invitee: Role) -> bool:
    """Admins invite teachers and students; teachers invite students."""
    if inviter is Role.ADMIN:
        return invitee in (Role.TEACHER, Role.STUDENT)
    if inviter is Role.TEACHER:
        return invitee is Role.STUDENT
    return False


def normalize_email(email: str) -> str:
    return email.strip().lower()


def with_article(noun: str) -> str:
    """"a teacher", "an admin": the article by the noun's first letter (enough for role names)."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"
