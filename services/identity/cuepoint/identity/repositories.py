"""The SQL that loads and saves what identity's use cases work on. Each repository works on the
unit of work's session, so row-level security and the transaction are the unit of work's; the fakes
of the use cases' unit tests (tests/unit/fakes.py) have the same methods."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Table, and_, case, distinct, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.runtime.clock import utc_now
from cuepoint.runtime.errors import Conflict

from . import orm
from .domain import notifications, throttle
from .domain.accounts import AccountToken, Invitation
from .domain.exports import ChunkCount, DataExport
from .domain.notifications import LessonWeek, Recipient
from .domain.sessions import AuthSession, RefreshToken
from .domain.tenants import Tenant
from .domain.users import User
from .sensitive import SensitiveFields


class Tenants:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *, tenant_id: UUID, slug: str, name: str, is_platform: bool) -> Tenant:
        """Refuses a slug another tenant has (the unique index keeps that)."""
        try:
            await self.session.execute(orm.tenants.insert().values(
                id=tenant_id, slug=slug, name=name, status="ACTIVE", is_platform=is_platform, created_at=utc_now(),
                updated_at=utc_now()))
            await self.session.flush()
        except IntegrityError as error:
            raise Conflict(f"a tenant with slug {slug!r} already exists") from error
        tenant = await self.get(tenant_id)
        assert tenant is not None
        return tenant

    async def get(self, tenant_id: UUID, *, lock: bool = False) -> Tenant | None:
        query = select(orm.tenants).where(orm.tenants.c.id == tenant_id)
        row = (await self.session.execute(query.with_for_update() if lock else query)).first()
        return Tenant(**row._mapping) if row else None

    async def by_slug(self, slug: str) -> Tenant | None:
        row = (await self.session.execute(select(orm.tenants).where(orm.tenants.c.slug == slug))).first()
        return Tenant(**row._mapping) if row else None

    async def all_ids(self) -> list[UUID]:
        return list((await self.session.execute(select(orm.tenants.c.id).order_by(orm.tenants.c.id))).scalars())

    async def active_ids(self) -> list[UUID]:
        return list((await self.session.execute(select(orm.tenants.c.id).where(orm.tenants.c.status == "ACTIVE"))
                     ).scalars())

    async def set_status(self, tenant_id: UUID, status: str) -> None:
        await self.session.execute(update(orm.tenants).where(orm.tenants.c.id == tenant_id)
                                   .values(status=status, updated_at=utc_now()))


class Users:
    """The email is stored encrypted and found by its blind index (sensitive.py)."""

    def __init__(self, session: AsyncSession, fields: SensitiveFields) -> None:
        self.session = session
        self.fields = fields

    def _user(self, row: Any) -> User | None:
        return User(**self.fields.open("users", row._mapping)) if row else None

    async def get(self, user_id: UUID, *, lock: bool = False) -> User | None:
        query = select(orm.users).where(orm.users.c.id == user_id)
        return self._user((await self.session.execute(query.with_for_update() if lock else query)).first())

    async def by_email(self, email: str) -> User | None:
        """The tenant's account of this address, whatever its case (the index is of the lower-cased address)."""
        return self._user((await self.session.execute(select(orm.users).where(
            orm.users.c.email_index.in_(self.fields.email_indexes(email))).limit(1))).first())

    async def add(self, user: User) -> None:
        """Refuses an address another account of the tenant has (the unique index keeps that)."""
        try:
            await self.session.execute(orm.users.insert().values(**self.fields.seal("users", asdict(user))))
            await self.session.flush()
        except IntegrityError as error:
            raise Conflict("an account with this email already exists in this organisation") from error

    async def update(self, user_id: UUID, **values: Any) -> None:
        await self.session.execute(update(orm.users).where(orm.users.c.id == user_id).values(
            **self.fields.seal("users", values)))

    async def change_email(self, user_id: UUID, email: str) -> None:
        """The new (proven) address; refused if another account took it since the link was sent."""
        try:
            async with self.session.begin_nested():
                await self.session.execute(update(orm.users).where(orm.users.c.id == user_id).values(
                    **self.fields.seal("users", {"email": email}), email_verified=True, email_verified_at=utc_now(),
                    updated_at=utc_now()))
        except IntegrityError as error:
            raise Conflict("another account of this organisation has this address now") from error

    async def other_active_admins(self, user_id: UUID) -> int:
        return (await self.session.execute(select(func.count()).select_from(orm.users).where(
            orm.users.c.role == "ADMIN", orm.users.c.status == "ACTIVE", orm.users.c.id != user_id))).scalar_one()


class UserPreferences:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: UUID, *, lock: bool = False) -> dict[str, Any] | None:
        """The stored document; None when the user has none (erased, or never stored)."""
        query = select(orm.user_preferences.c.preferences).where(orm.user_preferences.c.user_id == user_id)
        return (await self.session.execute(query.with_for_update() if lock else query)).scalar_one_or_none()

    async def save(self, user_id: UUID, tenant_id: UUID, document: dict[str, Any]) -> None:
        statement = pg_insert(orm.user_preferences).values(user_id=user_id, tenant_id=tenant_id,
                                                           preferences=document, updated_at=utc_now())
        await self.session.execute(statement.on_conflict_do_update(
            index_elements=[orm.user_preferences.c.user_id], set_={"preferences": document, "updated_at": utc_now()}))

    async def delete(self, user_id: UUID) -> None:
        await self.session.execute(orm.user_preferences.delete().where(orm.user_preferences.c.user_id == user_id))


class Invitations:
    """The invitee's email is stored encrypted, with its blind index (sensitive.py)."""

    def __init__(self, session: AsyncSession, fields: SensitiveFields) -> None:
        self.session = session
        self.fields = fields

    def _invitation(self, row: Any) -> Invitation:
        return Invitation(**self.fields.open("invitations", row._mapping))

    async def add(self, *, invitation_id: UUID, tenant_id: UUID, email: str, role: str, invited_by_id: UUID,
                  token_hash: bytes, expires_at: datetime) -> Invitation:
        await self.session.execute(orm.invitations.insert().values(**self.fields.seal("invitations", dict(
            id=invitation_id, tenant_id=tenant_id, email=email, role=role, invited_by_id=invited_by_id,
            token_hash=token_hash, expires_at=expires_at, created_at=utc_now()))))
        row = (await self.session.execute(select(orm.invitations).where(orm.invitations.c.id == invitation_id))).one()
        return self._invitation(row)

    async def by_token(self, token_hash: bytes) -> Invitation | None:
        """Locked: two registrations with one invitation, one wins."""
        row = (await self.session.execute(select(orm.invitations).where(
            orm.invitations.c.token_hash == token_hash).with_for_update())).first()
        return self._invitation(row) if row else None

    async def accept(self, invitation_id: UUID, user_id: UUID) -> None:
        await self.session.execute(update(orm.invitations).where(orm.invitations.c.id == invitation_id)
                                   .values(accepted_at=utc_now(), accepted_user_id=user_id))

    async def sent_by(self, user_id: UUID) -> list[Invitation]:
        rows = (await self.session.execute(select(orm.invitations).where(
            orm.invitations.c.invited_by_id == user_id))).all()
        return [self._invitation(row) for row in rows]

    async def readdress(self, email: str, new_email: str) -> None:
        await self.session.execute(update(orm.invitations).where(
            orm.invitations.c.email_index.in_(self.fields.email_indexes(email)))
            .values(**self.fields.seal("invitations", {"email": new_email})))


class AccountTokens:
    """One table of emailed single-use links (verification, reset, email change)."""

    def __init__(self, session: AsyncSession, table: Table, fields: SensitiveFields) -> None:
        self.session = session
        self.table = table
        self.fields = fields  # an email change's new address is stored encrypted

    async def add(self, *, tenant_id: UUID, user_id: UUID, token_hash: bytes, expires_at: datetime,
                  token_id: UUID, **extra: Any) -> None:
        await self.session.execute(self.table.insert().values(**self.fields.seal(self.table.name, dict(
            id=token_id, tenant_id=tenant_id, user_id=user_id, token_hash=token_hash, expires_at=expires_at,
            created_at=utc_now(), **extra))))

    async def by_hash(self, token_hash: bytes) -> AccountToken | None:
        """Locked: two uses of one link racing each other, one wins."""
        row = (await self.session.execute(select(self.table).where(
            self.table.c.token_hash == token_hash).with_for_update())).first()
        return AccountToken(**self.fields.open(self.table.name, row._mapping)) if row else None

    async def use(self, token_id: UUID) -> None:
        await self.session.execute(update(self.table).where(self.table.c.id == token_id).values(used_at=utc_now()))

    async def use_all_of(self, user_id: UUID) -> None:
        """Every open link of the user, used up at once."""
        await self.session.execute(update(self.table).where(
            self.table.c.user_id == user_id, self.table.c.used_at.is_(None)).values(used_at=utc_now()))

    async def sent_since(self, user_id: UUID, since: datetime) -> int:
        return (await self.session.execute(select(func.count()).select_from(self.table).where(
            self.table.c.user_id == user_id, self.table.c.created_at > since))).scalar_one()

    async def delete_of(self, user_id: UUID) -> None:
        await self.session.execute(self.table.delete().where(self.table.c.user_id == user_id))


class AuthSessions:
    """The client a session was opened from (device, user agent, address) is stored encrypted; the address
    also by its blind index, for sign-in throttling (sensitive.py)."""

    def __init__(self, session: AsyncSession, fields: SensitiveFields) -> None:
        self.session = session
        self.fields = fields

    def _session(self, row: Any) -> AuthSession:
        return AuthSession(**self.fields.open("auth_sessions", row._mapping))

    async def add(self, *, session_id: UUID, tenant_id: UUID, user_id: UUID, device_id: str | None,
                  user_agent: str | None, ip_address: str | None, expires_at: datetime) -> None:
        await self.session.execute(orm.auth_sessions.insert().values(**self.fields.seal("auth_sessions", dict(
            id=session_id, tenant_id=tenant_id, user_id=user_id, device_id=device_id, user_agent=user_agent,
            ip_address=ip_address, created_at=utc_now(), last_used_at=utc_now(), expires_at=expires_at))))

    async def get(self, session_id: UUID, *, lock: bool = False) -> AuthSession | None:
        query = select(orm.auth_sessions).where(orm.auth_sessions.c.id == session_id)
        row = (await self.session.execute(query.with_for_update() if lock else query)).first()
        return self._session(row) if row else None

    async def of_user(self, user_id: UUID) -> list[AuthSession]:
        rows = (await self.session.execute(select(orm.auth_sessions).where(
            orm.auth_sessions.c.user_id == user_id).order_by(orm.auth_sessions.c.created_at))).all()
        return [self._session(row) for row in rows]

    async def signed_in_from(self, user_id: UUID, ip_address: str) -> bool:
        """Whether the user ever had a session from this address."""
        return (await self.session.execute(select(func.count()).select_from(orm.auth_sessions).where(
            orm.auth_sessions.c.user_id == user_id,
            orm.auth_sessions.c.ip_address_index.in_(self.fields.ip_indexes(ip_address))))).scalar_one() > 0

    async def touch(self, session_id: UUID) -> None:
        await self.session.execute(update(orm.auth_sessions).where(orm.auth_sessions.c.id == session_id)
                                   .values(last_used_at=utc_now()))

    async def revoke(self, session_id: UUID, reason: str, *, user_id: UUID | None = None) -> bool:
        """Ends an open session (of ``user_id`` only, if given); whether there was one."""
        conditions = [orm.auth_sessions.c.id == session_id, orm.auth_sessions.c.revoked_at.is_(None)]
        if user_id is not None:
            conditions.append(orm.auth_sessions.c.user_id == user_id)
        result = await self.session.execute(update(orm.auth_sessions).where(*conditions)
                                            .values(revoked_at=utc_now(), revoke_reason=reason))
        return result.rowcount > 0

    async def revoke_of_user(self, user_id: UUID, reason: str, *, keep: UUID | None = None) -> list[UUID]:
        """Ends the user's open sessions (all but ``keep``); the ids of those ended."""
        condition = and_(orm.auth_sessions.c.user_id == user_id, orm.auth_sessions.c.revoked_at.is_(None))
        if keep is not None:
            condition = and_(condition, orm.auth_sessions.c.id != keep)
        rows = (await self.session.execute(update(orm.auth_sessions).where(condition).values(
            revoked_at=utc_now(), revoke_reason=reason).returning(orm.auth_sessions.c.id))).all()
        return [row.id for row in rows]

    async def revoke_all(self, reason: str) -> dict[UUID, list[UUID]]:
        """Ends every open session of the tenant; the ids of those ended, by user."""
        rows = (await self.session.execute(update(orm.auth_sessions).where(orm.auth_sessions.c.revoked_at.is_(None))
                                           .values(revoked_at=utc_now(), revoke_reason=reason)
                                           .returning(orm.auth_sessions.c.user_id, orm.auth_sessions.c.id))).all()
        by_user: dict[UUID, list[UUID]] = {}
        for user_id, session_id in rows:
            by_user.setdefault(user_id, []).append(session_id)
        return by_user

    async def forget_clients(self, user_id: UUID) -> None:
        """Erasure: the sessions stay (as ended), what they said of the client goes."""
        await self.session.execute(update(orm.auth_sessions).where(orm.auth_sessions.c.user_id == user_id).values(
            user_agent=None, ip_address=None, ip_address_index=None, device_id=None))


class SealedRows:
    """Rows whose encrypted columns are not all under the current key yet (``rotate-secrets``)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def stale(self, table: str, key: str, columns: tuple[str, ...], current_prefix: str,
                    limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` such rows of the table (of this transaction's tenant), locked: their key and columns."""
        t = orm.metadata.tables[f"identity.{table}"]
        pattern = current_prefix + "%"  # "v2.<hex key id>.": no LIKE wildcard in it
        stale = or_(*[and_(t.c[c].is_not(None), t.c[c].not_like(pattern)) for c in columns])
        rows = (await self.session.execute(select(t.c[key], *[t.c[c] for c in columns]).where(stale)
                                           .order_by(t.c[key]).limit(limit).with_for_update())).all()
        return [dict(row._mapping) for row in rows]

    async def rewrite(self, table: str, key: str, key_value: Any, values: dict[str, Any]) -> None:
        t = orm.metadata.tables[f"identity.{table}"]
        await self.session.execute(update(t).where(t.c[key] == key_value).values(**values))


class RefreshTokens:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *, token_id: UUID, tenant_id: UUID, session_id: UUID, token_hash: bytes) -> None:
        await self.session.execute(orm.refresh_tokens.insert().values(
            id=token_id, tenant_id=tenant_id, session_id=session_id, token_hash=token_hash, created_at=utc_now()))

    async def by_hash(self, token_hash: bytes) -> RefreshToken | None:
        """Locked: two refreshes with one token, one wins (and the other is a reuse)."""
        row = (await self.session.execute(select(orm.refresh_tokens).where(
            orm.refresh_tokens.c.token_hash == token_hash).with_for_update())).first()
        return RefreshToken(**row._mapping) if row else None

    async def use(self, token_id: UUID) -> None:
        await self.session.execute(update(orm.refresh_tokens).where(orm.refresh_tokens.c.id == token_id)
                                   .values(used_at=utc_now()))


class Throttle:
    """Failed sign-in counters (domain/throttle.py says what they mean)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def failures(self, rule: throttle.Rule, subject: str) -> tuple[int, datetime] | None:
        """(failures, last failure) of a counter, None if it has none."""
        row = (await self.session.execute(select(orm.auth_throttle).where(
            orm.auth_throttle.c.scope == rule.scope, orm.auth_throttle.c.subject == subject))).first()
        return (row.failures, row.last_failure_at) if row else None

    async def record_failure(self, rule: throttle.Rule, subject: str) -> None:
        """One more failure; a counter whose last failure is forgotten starts again at one."""
        table = orm.auth_throttle
        stale = utc_now() - timedelta(seconds=throttle.FAILURE_MEMORY_SECONDS)
        statement = pg_insert(table).values(scope=rule.scope, subject=subject, failures=1, last_failure_at=utc_now())
        await self.session.execute(statement.on_conflict_do_update(
            index_elements=[table.c.scope, table.c.subject],
            set_={"failures": case((table.c.last_failure_at < stale, 1), else_=table.c.failures + 1),
                  "last_failure_at": utc_now()}))

    async def forget(self, subjects: list[str]) -> None:
        await self.session.execute(orm.auth_throttle.delete().where(orm.auth_throttle.c.subject.in_(subjects)))


class Configs:
    """This tenant's config values and the platform's."""

    def __init__(self, session: AsyncSession, tenant_id: UUID | None) -> None:
        self.session = session
        self.tenant_id = tenant_id

    def _where(self, key: str, platform: bool) -> tuple[Table, Any, dict[str, Any]]:
        if platform:
            table = orm.platform_configs
            return table, table.c.key == key, {"key": key}
        table = orm.system_configs
        return table, and_(table.c.tenant_id == self.tenant_id, table.c.key == key), {"key": key,
                                                                                      "tenant_id": self.tenant_id}

    async def value(self, key: str, *, platform: bool = False) -> Any:
        """The stored value (JSON), None when none is stored."""
        table, condition, _ = self._where(key, platform)
        return (await self.session.execute(select(table.c.value).where(condition))).scalar_one_or_none()

    async def set(self, key: str, value: Any, *, updated_by_id: UUID, platform: bool = False) -> None:
        table, _, values = self._where(key, platform)
        statement = pg_insert(table).values(**values, value=value, updated_by_id=updated_by_id, updated_at=utc_now())
        await self.session.execute(statement.on_conflict_do_update(
            index_elements=list(table.primary_key.columns),
            set_={"value": value, "updated_by_id": updated_by_id, "updated_at": utc_now()}))

    async def delete(self, key: str, *, platform: bool = False) -> None:
        table, condition, _ = self._where(key, platform)
        await self.session.execute(table.delete().where(condition))


class ProfileSnapshots:
    """The user's profile records still in identity's outbox (published or not)."""

    def __init__(self, session: AsyncSession, schema: str, topic: str) -> None:
        self.session = session
        self.schema = schema
        self.topic = topic

    async def delete(self, user_id: UUID) -> None:
        await self.session.execute(text(f'DELETE FROM "{self.schema}".outbox WHERE topic = :topic AND key = :key'),
                                   {"topic": self.topic, "key": str(user_id)})


class Recipients:
    """Who gets a notification email."""

    def __init__(self, session: AsyncSession, fields: SensitiveFields) -> None:
        self.session = session
        self.fields = fields

    async def of(self, notification: str, *, roles: tuple[str, ...] = (), user_id: UUID | None = None
                 ) -> list[Recipient]:
        """Active users (of a role, or one user) whose preference allows this notification."""
        query = (select(orm.users.c.id, orm.users.c.tenant_id, orm.users.c.email, orm.users.c.display_name,
                        orm.user_preferences.c.preferences)
                 .outerjoin(orm.user_preferences, orm.user_preferences.c.user_id == orm.users.c.id)
                 .where(orm.users.c.status == "ACTIVE"))
        if roles:
            query = query.where(orm.users.c.role.in_(roles))
        if user_id is not None:
            query = query.where(orm.users.c.id == user_id)
        rows = (await self.session.execute(query)).all()
        return [Recipient(row.id, row.tenant_id, self.fields.open("users", {"email": row.email})["email"],
                          row.display_name) for row in rows if notifications.wants(row.preferences, notification)]


class LessonActivity:
    """Answers counted per lesson, day and student (projections.py keeps them), for weekly summaries."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def forget_before(self, day: date) -> None:
        await self.session.execute(orm.lesson_activity.delete().where(orm.lesson_activity.c.day < day))

    async def week_of(self, teacher_id: UUID, week_start: date) -> list[LessonWeek]:
        """Each lesson the teacher published, with its answers in the week from ``week_start``, by title."""
        activity = orm.lesson_activity
        lessons = orm.published_lessons
        rows = (await self.session.execute(
            select(lessons.c.lesson_id, lessons.c.title, func.coalesce(func.sum(activity.c.attempts), 0),
                   func.count(distinct(activity.c.student_id)), func.coalesce(func.sum(activity.c.correct), 0))
            .outerjoin(activity, (activity.c.lesson_id == lessons.c.lesson_id) & (activity.c.day >= week_start)
                       & (activity.c.day < week_start + timedelta(days=7)))
            .where(lessons.c.created_by_id == teacher_id)
            .group_by(lessons.c.lesson_id, lessons.c.title).order_by(lessons.c.title))).all()
        return [LessonWeek(title, attempts, students, correct) for _, title, attempts, students, correct in rows]


class WeeklySummaries:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, tenant_id: UUID, user_id: UUID, week: date) -> bool:
        """Records the user's summary of the week as sent; False if it already was (it is sent once)."""
        claimed = (await self.session.execute(pg_insert(orm.weekly_summaries).values(
            tenant_id=tenant_id, user_id=user_id, week=week).on_conflict_do_nothing()
            .returning(orm.weekly_summaries.c.user_id))).first()
        return claimed is not None


class DataExports:
    """Data exports and the sealed chunks of their parts (issue 16)."""

    _COLUMNS = [c for c in orm.data_exports.c if c.name != "archive"]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, export: DataExport) -> None:
        await self.session.execute(orm.data_exports.insert().values(**asdict(export)))

    async def get(self, export_id: UUID, *, lock: bool = False) -> DataExport | None:
        query = select(*self._COLUMNS).where(orm.data_exports.c.id == export_id)
        row = (await self.session.execute(query.with_for_update() if lock else query)).first()
        return DataExport(**row._mapping) if row else None

    async def of_user(self, user_id: UUID, *, limit: int, offset: int) -> tuple[list[DataExport], int]:
        table = orm.data_exports
        rows = (await self.session.execute(select(*self._COLUMNS).where(table.c.user_id == user_id).order_by(
            table.c.requested_at.desc(), table.c.id.desc()).limit(limit).offset(offset))).all()
        total = (await self.session.execute(select(func.count()).select_from(table).where(
            table.c.user_id == user_id))).scalar_one()
        return [DataExport(**row._mapping) for row in rows], total

    async def add_chunk(self, *, export_id: UUID, tenant_id: UUID, service: str, chunk: int, chunks: int,
                        sealed: str) -> None:
        """Idempotent: a chunk received again (a redelivery, a replay) changes nothing."""
        await self.session.execute(pg_insert(orm.data_export_parts).values(
            export_id=export_id, tenant_id=tenant_id, service=service, chunk=chunk, chunks=chunks,
            sealed=sealed.encode(), received_at=utc_now()).on_conflict_do_nothing())

    async def chunk_counts(self, export_id: UUID) -> list[ChunkCount]:
        table = orm.data_export_parts
        rows = (await self.session.execute(select(table.c.service, func.max(table.c.chunks), func.count()).where(
            table.c.export_id == export_id).group_by(table.c.service))).all()
        return [ChunkCount(service, chunks, received) for service, chunks, received in rows]

    async def chunk_counts_of(self, export_ids: list[UUID]) -> dict[UUID, list[ChunkCount]]:
        table = orm.data_export_parts
        rows = (await self.session.execute(select(table.c.export_id, table.c.service, func.max(table.c.chunks),
                                                  func.count()).where(table.c.export_id.in_(export_ids))
                                           .group_by(table.c.export_id, table.c.service))).all()
        counts: dict[UUID, list[ChunkCount]] = {export_id: [] for export_id in export_ids}
        for export_id, service, chunks, received in rows:
            counts[export_id].append(ChunkCount(service, chunks, received))
        return counts

    async def chunks(self, export_id: UUID) -> dict[str, list[str]]:
        """Each service's chunks, in order."""
        table = orm.data_export_parts
        rows = (await self.session.execute(select(table.c.service, table.c.sealed).where(
            table.c.export_id == export_id).order_by(table.c.service, table.c.chunk))).all()
        parts: dict[str, list[str]] = {}
        for service, sealed in rows:
            parts.setdefault(service, []).append(bytes(sealed).decode())
        return parts

    async def finish(self, export_id: UUID, *, status: str, archive: str | None = None,
                     ready_at: datetime | None = None, expires_at: datetime | None = None) -> None:
        """READY (with its archive) or FAILED: the private key and the sealed parts go either way."""
        await self.session.execute(update(orm.data_exports).where(orm.data_exports.c.id == export_id).values(
            status=status, archive=archive, ready_at=ready_at, expires_at=expires_at, private_key_encrypted=None))
        await self.session.execute(orm.data_export_parts.delete().where(
            orm.data_export_parts.c.export_id == export_id))

    async def archive(self, export_id: UUID) -> str | None:
        """The archive as stored: encrypted (use_cases.exports.open_archive)."""
        return (await self.session.execute(select(orm.data_exports.c.archive).where(
            orm.data_exports.c.id == export_id))).scalar_one_or_none()

    async def expire_due(self, at: datetime, *, parts_wait: timedelta) -> int:
        """Ready archives past their expiry become EXPIRED (the archive deleted); exports still
        assembling after ``parts_wait`` FAILED (their key and parts deleted). How many changed."""
        table = orm.data_exports
        expired = await self.session.execute(update(table).where(table.c.status == "READY", table.c.expires_at <= at)
                                             .values(status="EXPIRED", archive=None).returning(table.c.id))
        failed = await self.session.execute(update(table).where(
            table.c.status == "ASSEMBLING", table.c.requested_at <= at - parts_wait).values(
            status="FAILED", private_key_encrypted=None).returning(table.c.id))
        ids = [row.id for row in expired.all()] + [row.id for row in failed.all()]
        if ids:
            await self.session.execute(orm.data_export_parts.delete().where(
                orm.data_export_parts.c.export_id.in_(ids)))
        return len(ids)

    async def delete_of(self, user_id: UUID) -> None:
        """Erasure: the person's exports go, archives and parts with them."""
        await self.session.execute(orm.data_exports.delete().where(orm.data_exports.c.user_id == user_id))

