"""Reads that answer identity's GET routes. A view never writes and never emits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cuepoint.runtime.auth import CurrentUser
from cuepoint.runtime.db import tenant_transaction
from cuepoint.runtime.errors import NotFound

from . import orm
from .domain import configs, exports
from .domain.preferences import Preferences
from .domain.users import ensure_self_or_admin
from .repositories import DataExports
from .schemas import ConfigOut, DataExportOut, SessionOut, TenantOut, UserOut
from .sensitive import SensitiveFields

Sessions = async_sessionmaker[AsyncSession]


async def tenants(sessions: Sessions, *, limit: int, offset: int) -> tuple[list[TenantOut], int]:
    """Every tenant (platform admins), oldest first."""
    async with sessions() as session:
        total = (await session.execute(select(func.count()).select_from(orm.tenants))).scalar_one()
        rows = (await session.execute(select(orm.tenants).order_by(orm.tenants.c.created_at, orm.tenants.c.id)
                                      .limit(limit).offset(offset))).all()
    return [TenantOut.model_validate(row._mapping) for row in rows], total


async def user(sessions: Sessions, actor: CurrentUser, user_id: UUID, *, fields: SensitiveFields) -> UserOut:
    ensure_self_or_admin(actor, user_id)
    async with tenant_transaction(sessions, actor.tenant_id) as session:
        row = (await session.execute(select(orm.users).where(orm.users.c.id == user_id))).first()
    if row is None:
        raise NotFound(f"no user {user_id}")
    return UserOut.model_validate(fields.open("users", row._mapping))


async def users(sessions: Sessions, actor: CurrentUser, *, query: str | None, role: str | None,
                status: str | None, limit: int, offset: int, fields: SensitiveFields) -> tuple[list[UserOut], int]:
    """The tenant's users (admins), filtered, and searched typo-tolerantly by name, and by email exactly
    (addresses are stored encrypted: the search matches the address's blind index, sensitive.py)."""
    conditions = []
    order: list[Any] = [orm.users.c.created_at, orm.users.c.id]
    if query:
        # The same expression as the users_search trigram index, so the index serves it.
        haystack = func.lower(orm.users.c.display_name)
        needle = query.strip().lower()
        # Typo-tolerant (pg_trgm): the needle against the most similar words of the name (`%>`, word
        # similarity), or a plain substring; or the whole query is an address (its blind index).
        is_the_address = orm.users.c.email_index.in_(fields.email_indexes(needle))
        conditions.append(or_(haystack.op("%>", is_comparison=True)(needle), haystack.contains(needle),
                              is_the_address))
        # The account whose address the query is comes before names that merely look like it.
        order = [is_the_address.desc().nullslast(), func.word_similarity(needle, haystack).desc(),
                 func.similarity(haystack, needle).desc(), orm.users.c.id]
    if role:
        conditions.append(orm.users.c.role == role)
    if status:
        conditions.append(orm.users.c.status == status)
    async with tenant_transaction(sessions, actor.tenant_id) as session:
        await session.execute(text("SET LOCAL pg_trgm.word_similarity_threshold = 0.5"))
        total = (await session.execute(select(func.count()).select_from(orm.users).where(*conditions))).scalar_one()
        rows = (await session.execute(select(orm.users).where(*conditions).order_by(*order)
                                      .limit(limit).offset(offset))).all()
    return [UserOut.model_validate(fields.open("users", row._mapping)) for row in rows], total


async def auth_sessions(sessions: Sessions, actor: CurrentUser, *, fields: SensitiveFields) -> list[SessionOut]:
    """The actor's open sessions, the most recently used first."""
    async with tenant_transaction(sessions, actor.tenant_id) as session:
        rows = (await session.execute(select(orm.auth_sessions).where(
            orm.auth_sessions.c.user_id == actor.id, orm.auth_sessions.c.revoked_at.is_(None),
            orm.auth_sessions.c.expires_at > datetime.now(UTC)).order_by(
            orm.auth_sessions.c.last_used_at.desc()))).all()
    return [SessionOut(**fields.open("auth_sessions", row._mapping), current=row.id == actor.session_id)
            for row in rows]


async def preferences(sessions: Sessions, actor: CurrentUser) -> Preferences:
    async with tenant_transaction(sessions, actor.tenant_id) as session:
        row = (await session.execute(select(orm.user_preferences.c.preferences).where(
            orm.user_preferences.c.user_id == actor.id))).first()
    return Preferences.model_validate(row.preferences) if row else Preferences()


async def system_configs(sessions: Sessions, actor: CurrentUser) -> list[ConfigOut]:
    """Every config key with the value that applies to the actor's tenant, and where it comes from."""
    async with tenant_transaction(sessions, actor.tenant_id) as session:
        tenant = {row.key: row.value for row in (await session.execute(select(orm.system_configs))).all()}
        platform = {row.key: row.value for row in (await session.execute(select(orm.platform_configs))).all()}
    return [ConfigOut(**entry) for entry in configs.effective(tenant, platform)]


def _export_out(export: Any, counts: list[Any], at: datetime) -> DataExportOut:
    return DataExportOut(id=export.id, status=exports.status_at(export, at), requested_at=export.requested_at,
                         parts=exports.parts_of(export, counts), ready_at=export.ready_at,
                         expires_at=export.expires_at)


async def data_exports(sessions: Sessions, actor: CurrentUser, user_id: UUID, *, limit: int, offset: int
                       ) -> tuple[list[DataExportOut], int]:
    """A person's data exports, newest first (the person, or an admin)."""
    ensure_self_or_admin(actor, user_id)
    async with tenant_transaction(sessions, actor.tenant_id) as session:
        if (await session.execute(select(orm.users.c.id).where(orm.users.c.id == user_id))).first() is None:
            raise NotFound(f"no user {user_id}")
        repository = DataExports(session)
        items, total = await repository.of_user(user_id, limit=limit, offset=offset)
        counts = await repository.chunk_counts_of([item.id for item in items])
    at = datetime.now(UTC)
    return [_export_out(item, counts[item.id], at) for item in items], total


async def _export_of(session: AsyncSession, user_id: UUID, export_id: UUID) -> Any:
    export = await DataExports(session).get(export_id)
    if export is None or export.user_id != user_id:
        raise NotFound(f"no export {export_id}")
    return export


async def data_export(sessions: Sessions, actor: CurrentUser, user_id: UUID, export_id: UUID) -> DataExportOut:
    ensure_self_or_admin(actor, user_id)
    async with tenant_transaction(sessions, actor.tenant_id) as session:
        export = await _export_of(session, user_id, export_id)
        counts = await DataExports(session).chunk_counts(export_id)
    return _export_out(export, counts, datetime.now(UTC))


async def data_export_archive(sessions: Sessions, actor: CurrentUser, user_id: UUID, export_id: UUID) -> str:
    """The archive of a ready export as stored, encrypted (409 while assembling or failed, 410 once expired)."""
    ensure_self_or_admin(actor, user_id)
    async with tenant_transaction(sessions, actor.tenant_id) as session:
        export = await _export_of(session, user_id, export_id)
        exports.ensure_downloadable(export, datetime.now(UTC))
        archive = await DataExports(session).archive(export_id)
    if archive is None:
        raise NotFound(f"no archive for export {export_id}")
    return archive
