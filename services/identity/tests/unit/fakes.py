"""In-memory stand-ins for identity's use cases: the repositories of repositories.py (the same
methods, rows as the domain's dataclasses in dicts), and the password hasher, signing keys and mail.
What SQL keeps (one account per address in a tenant, one tenant per slug, row-level security's
"only this tenant's rows" where a use case relies on it) the fakes keep too."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cuepoint.identity.domain import notifications, throttle
from cuepoint.identity.domain.accounts import AccountToken, Invitation
from cuepoint.identity.domain.exports import ChunkCount, DataExport
from cuepoint.identity.domain.notifications import LessonWeek, Recipient
from cuepoint.identity.domain.sessions import AuthSession, RefreshToken
from cuepoint.identity.domain.tenants import Tenant
from cuepoint.identity.domain.tokens import new_token
from cuepoint.identity.domain.users import User
from cuepoint.identity.mail import Email
from cuepoint.identity.security import SigningKey
from cuepoint.identity.settings import IdentitySettings
from cuepoint.runtime.auth import CurrentUser, Role
from cuepoint.runtime.errors import Conflict
from cuepoint.runtime.unit_of_work import FakeUnitsOfWork

TENANT = uuid.UUID("00000000-0000-7000-8000-000000000001")
SETTINGS = IdentitySettings.model_construct(**{name: field.default for name, field in
                                               IdentitySettings.model_fields.items()})
PASSWORD = "correct horse battery"


def now() -> datetime:
    return datetime.now(UTC)


def tenant(**values: Any) -> Tenant:
    return Tenant(**({"id": TENANT, "slug": "school", "name": "The School", "status": "ACTIVE", "is_platform": False,
                      "created_at": now(), "updated_at": now()} | values))


def user(role: str = "STUDENT", **values: Any) -> User:
    user_id = values.pop("id", uuid.uuid4())
    return User(**({"id": user_id, "tenant_id": TENANT, "email": f"{role.lower()}-{user_id.hex[:6]}@school.example",
                    "display_name": f"A {role.lower()}", "password_hash": FakePasswords.hashed(PASSWORD),
                    "role": role, "is_platform_admin": False, "status": "ACTIVE", "email_verified": True,
                    "email_verified_at": now(), "last_login_at": None, "erased_at": None, "created_at": now(),
                    "updated_at": now()} | values))


def actor(of: User, session_id: uuid.UUID | None = None) -> CurrentUser:
    return CurrentUser(of.id, of.tenant_id, Role.parse(of.role), session_id=session_id)


class FakeTenants:
    def __init__(self, *rows: Tenant) -> None:
        self.rows = {t.id: t for t in rows}

    async def add(self, *, tenant_id: uuid.UUID, slug: str, name: str, is_platform: bool) -> Tenant:
        if any(t.slug == slug for t in self.rows.values()):
            raise Conflict(f"a tenant with slug {slug!r} already exists")
        self.rows[tenant_id] = tenant(id=tenant_id, slug=slug, name=name, is_platform=is_platform)
        return self.rows[tenant_id]

    async def get(self, tenant_id: uuid.UUID, *, lock: bool = False) -> Tenant | None:
        return self.rows.get(tenant_id)

    async def by_slug(self, slug: str) -> Tenant | None:
        return next((t for t in self.rows.values() if t.slug == slug), None)

    async def active_ids(self) -> list[uuid.UUID]:
        return [t.id for t in self.rows.values() if t.status == "ACTIVE"]

    async def set_status(self, tenant_id: uuid.UUID, status: str) -> None:
        self.rows[tenant_id] = replace(self.rows[tenant_id], status=status, updated_at=now())


class FakeUsers:
    def __init__(self, *rows: User) -> None:
        self.rows = {u.id: u for u in rows}

    async def get(self, user_id: uuid.UUID, *, lock: bool = False) -> User | None:
        return self.rows.get(user_id)

    async def by_email(self, email: str) -> User | None:
        return next((u for u in self.rows.values() if u.email.lower() == email), None)

    async def add(self, new: User) -> None:
        if any(u.tenant_id == new.tenant_id and u.email.lower() == new.email.lower() for u in self.rows.values()):
            raise Conflict("an account with this email already exists in this organisation")
        self.rows[new.id] = new

    async def update(self, user_id: uuid.UUID, **values: Any) -> None:
        self.rows[user_id] = replace(self.rows[user_id], **values)

    async def change_email(self, user_id: uuid.UUID, email: str) -> None:
        if await self.by_email(email.lower()) is not None:
            raise Conflict("another account of this organisation has this address now")
        await self.update(user_id, email=email, email_verified=True, email_verified_at=now())

    async def other_active_admins(self, user_id: uuid.UUID) -> int:
        tenant_id = self.rows[user_id].tenant_id
        return sum(1 for u in self.rows.values() if u.tenant_id == tenant_id and u.role == "ADMIN"
                   and u.status == "ACTIVE" and u.id != user_id)


class FakePreferences:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, dict[str, Any]] = {}

    async def get(self, user_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any] | None:
        return self.rows.get(user_id)

    async def save(self, user_id: uuid.UUID, tenant_id: uuid.UUID, document: dict[str, Any]) -> None:
        self.rows[user_id] = document

    async def delete(self, user_id: uuid.UUID) -> None:
        self.rows.pop(user_id, None)


class FakeInvitations:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Invitation] = {}

    async def add(self, *, invitation_id: uuid.UUID, tenant_id: uuid.UUID, email: str, role: str,
                  invited_by_id: uuid.UUID, token_hash: bytes, expires_at: datetime) -> Invitation:
        self.rows[invitation_id] = Invitation(invitation_id, tenant_id, email, role, invited_by_id, token_hash,
                                              expires_at, None, None, now())
        return self.rows[invitation_id]

    async def by_token(self, token_hash: bytes) -> Invitation | None:
        return next((i for i in self.rows.values() if i.token_hash == token_hash), None)

    async def accept(self, invitation_id: uuid.UUID, user_id: uuid.UUID) -> None:
        self.rows[invitation_id] = replace(self.rows[invitation_id], accepted_at=now(), accepted_user_id=user_id)

    async def sent_by(self, user_id: uuid.UUID) -> list[Invitation]:
        return [i for i in self.rows.values() if i.invited_by_id == user_id]

    async def readdress(self, email: str, new_email: str) -> None:
        for i in list(self.rows.values()):
            if i.email == email:
                self.rows[i.id] = replace(i, email=new_email)

    def invite(self, inviter: User, email: str, role: str = "TEACHER", *, expires_in: timedelta = timedelta(days=1),
               accepted: bool = False) -> str:
        """An invitation as if sent before the test; its token."""
        token, token_hash = new_token(inviter.tenant_id)
        invitation_id = uuid.uuid4()
        self.rows[invitation_id] = Invitation(invitation_id, inviter.tenant_id, email, role, inviter.id, token_hash,
                                              now() + expires_in, now() if accepted else None, None, now())
        return token


class FakeAccountTokens:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, AccountToken] = {}

    async def add(self, *, tenant_id: uuid.UUID, user_id: uuid.UUID, token_hash: bytes, expires_at: datetime,
                  token_id: uuid.UUID, **extra: Any) -> None:
        self.rows[token_id] = AccountToken(token_id, tenant_id, user_id, token_hash, expires_at, None, now(), **extra)

    async def by_hash(self, token_hash: bytes) -> AccountToken | None:
        return next((t for t in self.rows.values() if t.token_hash == token_hash), None)

    async def use(self, token_id: uuid.UUID) -> None:
        self.rows[token_id] = replace(self.rows[token_id], used_at=now())

    async def use_all_of(self, user_id: uuid.UUID) -> None:
        for t in list(self.rows.values()):
            if t.user_id == user_id and t.used_at is None:
                self.rows[t.id] = replace(t, used_at=now())

    async def sent_since(self, user_id: uuid.UUID, since: datetime) -> int:
        return sum(1 for t in self.rows.values() if t.user_id == user_id and t.created_at > since)

    async def delete_of(self, user_id: uuid.UUID) -> None:
        self.rows = {k: t for k, t in self.rows.items() if t.user_id != user_id}

    def issue(self, of: User, *, expires_in: timedelta = timedelta(hours=1), used: bool = False,
              new_email: str | None = None) -> str:
        """A link as if emailed before the test; its token."""
        token, token_hash = new_token(of.tenant_id)
        token_id = uuid.uuid4()
        self.rows[token_id] = AccountToken(token_id, of.tenant_id, of.id, token_hash, now() + expires_in,
                                           now() if used else None, now(), new_email)
        return token


class FakeAuthSessions:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, AuthSession] = {}

    async def add(self, *, session_id: uuid.UUID, tenant_id: uuid.UUID, user_id: uuid.UUID, device_id: str | None,
                  user_agent: str | None, ip_address: str | None, expires_at: datetime) -> None:
        self.rows[session_id] = AuthSession(session_id, tenant_id, user_id, device_id, user_agent, ip_address, now(),
                                            now(), expires_at, None, None)

    async def get(self, session_id: uuid.UUID, *, lock: bool = False) -> AuthSession | None:
        return self.rows.get(session_id)

    async def of_user(self, user_id: uuid.UUID) -> list[AuthSession]:
        return [s for s in self.rows.values() if s.user_id == user_id]

    async def signed_in_from(self, user_id: uuid.UUID, ip_address: str) -> bool:
        return any(s.user_id == user_id and s.ip_address == ip_address for s in self.rows.values())

    async def touch(self, session_id: uuid.UUID) -> None:
        self.rows[session_id] = replace(self.rows[session_id], last_used_at=now())

    async def revoke(self, session_id: uuid.UUID, reason: str, *, user_id: uuid.UUID | None = None) -> bool:
        found = self.rows.get(session_id)
        if found is None or found.revoked_at is not None or (user_id is not None and found.user_id != user_id):
            return False
        self.rows[session_id] = replace(found, revoked_at=now(), revoke_reason=reason)
        return True

    async def revoke_of_user(self, user_id: uuid.UUID, reason: str, *,
                             keep: uuid.UUID | None = None) -> list[uuid.UUID]:
        ended = [s.id for s in self.rows.values() if s.user_id == user_id and s.revoked_at is None and s.id != keep]
        for session_id in ended:
            await self.revoke(session_id, reason)
        return ended

    async def revoke_all(self, reason: str) -> dict[uuid.UUID, list[uuid.UUID]]:
        by_user: dict[uuid.UUID, list[uuid.UUID]] = {}
        for s in list(self.rows.values()):
            if s.revoked_at is None:
                await self.revoke(s.id, reason)
                by_user.setdefault(s.user_id, []).append(s.id)
        return by_user

    async def forget_clients(self, user_id: uuid.UUID) -> None:
        for s in await self.of_user(user_id):
            self.rows[s.id] = replace(s, user_agent=None, ip_address=None, device_id=None)

    def open(self, of: User, *, ip_address: str | None = None, expires_in: timedelta = timedelta(days=1)) -> uuid.UUID:
        """A session as if opened before the test."""
        session_id = uuid.uuid4()
        self.rows[session_id] = AuthSession(session_id, of.tenant_id, of.id, None, None, ip_address, now(), now(),
                                            now() + expires_in, None, None)
        return session_id


class FakeRefreshTokens:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, RefreshToken] = {}

    async def add(self, *, token_id: uuid.UUID, tenant_id: uuid.UUID, session_id: uuid.UUID, token_hash: bytes) -> None:
        self.rows[token_id] = RefreshToken(token_id, tenant_id, session_id, token_hash, now(), None)

    async def by_hash(self, token_hash: bytes) -> RefreshToken | None:
        return next((t for t in self.rows.values() if t.token_hash == token_hash), None)

    async def use(self, token_id: uuid.UUID) -> None:
        self.rows[token_id] = replace(self.rows[token_id], used_at=now())


class FakeThrottle:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], tuple[int, datetime]] = {}

    async def failures(self, rule: throttle.Rule, subject: str) -> tuple[int, datetime] | None:
        return self.rows.get((rule.scope, subject))

    async def record_failure(self, rule: throttle.Rule, subject: str) -> None:
        failures, last = self.rows.get((rule.scope, subject), (0, now()))
        stale = (now() - last).total_seconds() > throttle.FAILURE_MEMORY_SECONDS
        self.rows[(rule.scope, subject)] = (1 if stale else failures + 1, now())

    async def forget(self, subjects: list[str]) -> None:
        self.rows = {k: v for k, v in self.rows.items() if k[1] not in subjects}


class FakeConfigs:
    """One tenant's values and the platform's."""

    def __init__(self) -> None:
        self.tenant: dict[str, Any] = {}
        self.platform: dict[str, Any] = {}

    async def value(self, key: str, *, platform: bool = False) -> Any:
        return (self.platform if platform else self.tenant).get(key)

    async def set(self, key: str, value: Any, *, updated_by_id: uuid.UUID, platform: bool = False) -> None:
        (self.platform if platform else self.tenant)[key] = value

    async def delete(self, key: str, *, platform: bool = False) -> None:
        (self.platform if platform else self.tenant).pop(key, None)


class FakeProfileSnapshots:
    def __init__(self) -> None:
        self.deleted: list[uuid.UUID] = []

    async def delete(self, user_id: uuid.UUID) -> None:
        self.deleted.append(user_id)


class FakeRecipients:
    """Reads the fake users and preferences, as the SQL joins the tables."""

    def __init__(self, users: FakeUsers, preferences: FakePreferences) -> None:
        self.users = users
        self.preferences = preferences

    async def of(self, notification: str, *, roles: tuple[str, ...] = (), user_id: uuid.UUID | None = None
                 ) -> list[Recipient]:
        return [Recipient(u.id, u.tenant_id, u.email, u.display_name) for u in self.users.rows.values()
                if u.status == "ACTIVE" and (not roles or u.role in roles) and (user_id is None or u.id == user_id)
                and notifications.wants(self.preferences.rows.get(u.id), notification)]


class FakeLessonActivity:
    def __init__(self) -> None:
        self.weeks: dict[tuple[uuid.UUID, date], list[LessonWeek]] = {}
        self.forgotten_before: list[date] = []

    async def forget_before(self, day: date) -> None:
        self.forgotten_before.append(day)

    async def week_of(self, teacher_id: uuid.UUID, week_start: date) -> list[LessonWeek]:
        return self.weeks.get((teacher_id, week_start), [])


class FakeWeeklySummaries:
    def __init__(self) -> None:
        self.sent: set[tuple[uuid.UUID, date]] = set()

    async def claim(self, tenant_id: uuid.UUID, user_id: uuid.UUID, week: date) -> bool:
        if (user_id, week) in self.sent:
            return False
        self.sent.add((user_id, week))
        return True


class FakeDataExports:
    """Exports, their chunks (idempotent on export, service and chunk) and archives, as the two tables."""

    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, DataExport] = {}
        self.parts: dict[tuple[uuid.UUID, str, int], tuple[int, str]] = {}
        self.archives: dict[uuid.UUID, str] = {}

    async def add(self, export: DataExport) -> None:
        self.rows[export.id] = export

    async def get(self, export_id: uuid.UUID, *, lock: bool = False) -> DataExport | None:
        return self.rows.get(export_id)

    async def of_user(self, user_id: uuid.UUID, *, limit: int, offset: int) -> tuple[list[DataExport], int]:
        mine = sorted((e for e in self.rows.values() if e.user_id == user_id), key=lambda e: e.requested_at,
                      reverse=True)
        return mine[offset:offset + limit], len(mine)

    async def add_chunk(self, *, export_id: uuid.UUID, tenant_id: uuid.UUID, service: str, chunk: int, chunks: int,
                        sealed: str) -> None:
        self.parts.setdefault((export_id, service, chunk), (chunks, sealed))

    async def chunk_counts(self, export_id: uuid.UUID) -> list[ChunkCount]:
        services: dict[str, list[int]] = {}
        for (owner, service, _), (chunks, _sealed) in self.parts.items():
            if owner == export_id:
                services.setdefault(service, []).append(chunks)
        return [ChunkCount(service, max(totals), len(totals)) for service, totals in services.items()]

    async def chunks(self, export_id: uuid.UUID) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for (owner, service, _), (_chunks, sealed) in sorted(self.parts.items(), key=lambda item: item[0][1:]):
            if owner == export_id:
                found.setdefault(service, []).append(sealed)
        return found

    def _drop_parts(self, export_id: uuid.UUID) -> None:
        for key in [key for key in self.parts if key[0] == export_id]:
            del self.parts[key]

    async def finish(self, export_id: uuid.UUID, *, status: str, archive: str | None = None,
                     ready_at: datetime | None = None, expires_at: datetime | None = None) -> None:
        self.rows[export_id] = replace(self.rows[export_id], status=status, ready_at=ready_at, expires_at=expires_at,
                                       private_key_encrypted=None)
        if archive is not None:
            self.archives[export_id] = archive
        self._drop_parts(export_id)

    async def archive(self, export_id: uuid.UUID) -> str | None:
        return self.archives.get(export_id)

    async def expire_due(self, at: datetime, *, parts_wait: timedelta) -> int:
        changed = 0
        for export in list(self.rows.values()):
            if export.status == "READY" and export.expires_at is not None and export.expires_at <= at:
                self.rows[export.id] = replace(export, status="EXPIRED")
                self.archives.pop(export.id, None)
            elif export.status == "ASSEMBLING" and export.requested_at <= at - parts_wait:
                self.rows[export.id] = replace(export, status="FAILED", private_key_encrypted=None)
            else:
                continue
            self._drop_parts(export.id)
            changed += 1
        return changed

    async def delete_of(self, user_id: uuid.UUID) -> None:
        for export_id in [e.id for e in self.rows.values() if e.user_id == user_id]:
            del self.rows[export_id]
            self.archives.pop(export_id, None)
            self._drop_parts(export_id)


def fake_units(*rows: Tenant | User) -> FakeUnitsOfWork:
    """Units of work over fresh fake repositories holding ``rows`` (the demo tenant unless one is given)."""
    tenants = [r for r in rows if isinstance(r, Tenant)] or [tenant()]
    users, preferences = FakeUsers(*[r for r in rows if isinstance(r, User)]), FakePreferences()
    return FakeUnitsOfWork(
        tenants=FakeTenants(*tenants), users=users, recipients=FakeRecipients(users, preferences),
        lesson_activity=FakeLessonActivity(), weekly_summaries=FakeWeeklySummaries(),
        preferences=preferences, invitations=FakeInvitations(), verifications=FakeAccountTokens(),
        password_resets=FakeAccountTokens(), email_changes=FakeAccountTokens(), auth_sessions=FakeAuthSessions(),
        refresh_tokens=FakeRefreshTokens(), throttle=FakeThrottle(), configs=FakeConfigs(),
        profile_snapshots=FakeProfileSnapshots(), exports=FakeDataExports())


class FakePasswords:
    """Not argon2: a readable stand-in with the same interface (and a rehash of old-style hashes)."""

    @staticmethod
    def hashed(password: str) -> str:
        return f"hashed:{password}"

    async def hash(self, password: str) -> str:
        return self.hashed(password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        return stored_hash is not None and stored_hash == self.hashed(password)

    def needs_rehash(self, stored_hash: str) -> bool:
        return not stored_hash.startswith("hashed:")


class FakeKeys:
    def __init__(self) -> None:
        self.key = SigningKey("test-key", Ed25519PrivateKey.generate(), now())

    async def current(self) -> SigningKey:
        return self.key


class FakeMail:
    """Records what would be sent, and whether it waited for the server (``send``) or not."""

    def __init__(self) -> None:
        self.sent: list[Email] = []
        self.later: list[Email] = []

    async def send(self, email: Email) -> None:
        self.sent.append(email)

    def send_later(self, email: Email) -> None:
        self.later.append(email)

    @property
    def all(self) -> list[Email]:
        return self.sent + self.later
