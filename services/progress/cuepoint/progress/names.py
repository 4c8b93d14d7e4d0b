"""Who each student is: display names projected from identity's compacted ``identity.user-profiles``,
for the teacher's class view (identity lets only admins read other users).

A profile snapshot upserts the user's display name; the email it also carries is not kept, since
the class view needs only the name. A tombstone (null value, keyed by user id, the tenant in its
headers) is identity's erasure: the row is deleted, and a replay of the compacted topic, which
keeps only the tombstone (then nothing) for that key, never brings the name back.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Text, text
from sqlalchemy import cast as sa_cast
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.contracts.envelope import Envelope
from cuepoint.runtime.consumer import PROCESSED, Handler, IdempotentConsumer, Record
from cuepoint.runtime.db import set_tenant

from . import orm
from .projection import NOTIFY_CHANNEL

# A changed name reaches the live class views of every lesson the student has progress in; the
# notices have the projection's shape, so the streams re-read that student's row as for any change.
NOTIFY_LESSONS = text("""
SELECT pg_notify(:channel, json_build_object('tenant_id', tenant_id, 'student_id', student_id,
                                             'lesson_id', lesson_id)::text)
FROM student_progress WHERE student_id = :student_id
""")


class DisplayNames:
    def handlers(self) -> dict[str, Handler]:
        async def profile(session: AsyncSession, envelope: Envelope[Any]) -> None:
            data = envelope.data
            n = orm.display_names
            statement = insert(n).values(tenant_id=envelope.tenant_id, user_id=data.user_id,
                                         display_name=data.display_name, updated_at=envelope.occurred_at)
            written = await session.execute(statement.on_conflict_do_update(
                index_elements=[n.c.tenant_id, n.c.user_id],
                set_={"display_name": statement.excluded.display_name, "updated_at": statement.excluded.updated_at},
                where=n.c.updated_at <= statement.excluded.updated_at).returning(n.c.user_id))
            if written.first() is not None:
                await self._notify(session, data.user_id)

        return {"identity.user_profile.snapshot.v1": profile}

    async def erase(self, session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """The student's name goes, and what identifies their devices: a session keeps its id (which
        is what events and the resume refer to) but not the device id or user agent."""
        n = orm.display_names
        deleted = await session.execute(n.delete().where(n.c.tenant_id == tenant_id, n.c.user_id == user_id)
                                        .returning(n.c.user_id))
        s, v = orm.student_sessions, orm.video_progress
        await session.execute(s.update().where(s.c.tenant_id == tenant_id, s.c.student_id == user_id)
                              .values(device_id="erased:" + sa_cast(s.c.id, Text), user_agent=None))
        await session.execute(v.update().where(v.c.tenant_id == tenant_id, v.c.student_id == user_id)
                              .values(last_device_id=None))
        # Sessions ended before progress.session.ended.v2 named their device; the published rows the
        # relay has not purged yet go now (the topic's copies are the README's stated exception).
        await session.execute(text("DELETE FROM outbox WHERE event_type = 'progress.session.ended.v1' AND key = :key "
                                   "AND published_at IS NOT NULL"), {"key": str(user_id)})
        if deleted.first() is not None:
            await self._notify(session, user_id)

    async def _notify(self, session: AsyncSession, student_id: uuid.UUID) -> None:
        await session.execute(NOTIFY_LESSONS, {"channel": NOTIFY_CHANNEL, "student_id": student_id})


class ProfileConsumer(IdempotentConsumer):
    """The idempotent consumer of ``identity.user-profiles``, tombstones included.

    The runtime's consumers skip tombstones (they carry no envelope), but here a tombstone is the
    one message that must not be missed. It has no event id for the inbox; deleting is idempotent
    and a key's records arrive in order, so a redelivered tombstone changes nothing.
    """

    def __init__(self, *, names: DisplayNames, **kwargs: Any) -> None:
        super().__init__(handlers=names.handlers(), **kwargs)
        self.names = names

    async def handle_record(self, record: Record) -> None:
        if record.value is not None:
            await super().handle_record(record)
            return
        try:
            user_id = uuid.UUID((record.key or b"").decode())
            tenant_id = uuid.UUID(_header(record, "tenant_id") or "")
        except ValueError as error:  # without both, the row to delete is unknown: made visible, not skipped
            await self._dead_letter(record, "invalid-tombstone", error)
            return

        async def work() -> None:
            async with self.sessions() as session, session.begin():
                await set_tenant(session, tenant_id)
                await self.names.erase(session, tenant_id, user_id)
            PROCESSED.labels(self.group_id, "processed").inc()

        async def give_up(error: BaseException) -> None:
            await self._dead_letter(record, "handler-failed", error)

        await self._with_retries(work, record, on_give_up=give_up)


def _header(record: Record, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return value.decode(errors="replace")
    return None
