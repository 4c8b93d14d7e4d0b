"""Who is acting: the role ladder and the user a verified access token names.

No framework here (auth.py verifies the token with FastAPI and PyJWT, then hands out a
:class:`CurrentUser`), so a service's ``domain/`` rules can take an actor and stay pure.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from uuid import UUID


class Role(enum.IntEnum):
    """Ordered: a higher role has every permission of the lower ones."""

    STUDENT = 1
    TEACHER = 2
    ADMIN = 3

    @classmethod
    def parse(cls, value: str) -> "Role":
        try:
            return cls[value.upper()]
        except KeyError:
            raise ValueError(f"unknown role {value!r}") from None


@dataclass(frozen=True)
class CurrentUser:
    id: UUID
    tenant_id: UUID
    role: Role
    session_id: UUID | None = None
    platform_admin: bool = False
    token_id: str = ""

    def at_least(self, role: Role) -> bool:
        return self.role >= role
