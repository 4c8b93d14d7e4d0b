"""Email notifications from other services' events: a newly published lesson to the organisation's
students, a teacher's grading of an answer to its student. identity learns of them from content's and
assessment's events (it reads no other schema) and keeps only the published lessons' titles.

Each runs as an idempotent consumer's handler (one transaction with its inbox row, so an event
notifies once); the emails go out after that transaction commits, as identity's other emails do,
and each honours the recipient's preference at that moment and links to unsubscribing from its kind.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.contracts.envelope import Envelope

from . import orm
from .domain import unsubscribe
from .domain.preferences import Preferences
from .mail import Email, Mailer, send_quietly
from .settings import IdentitySettings


class Notifications:
    def __init__(self, *, mailer: Mailer, settings: IdentitySettings, unsubscribe_key: bytes) -> None:
        self.mailer = mailer
        self.settings = settings
        self.unsubscribe_key = unsubscribe_key
        self._sending: set[asyncio.Task[None]] = set()

    def handlers(self) -> dict[str, Any]:
        return {
            "content.lesson.published.v1": self.lesson_published,
            "assessment.attempt.score_overridden.v1": self.answer_graded,
        }

    async def lesson_published(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        data = envelope.data
        values = {"title": data.title, "created_by_id": data.created_by_id, "version": data.version,
                  "updated_at": envelope.occurred_at}
        statement = pg_insert(orm.published_lessons).values(lesson_id=data.lesson_id, tenant_id=envelope.tenant_id,
                                                            **values)
        await session.execute(statement.on_conflict_do_update(
            index_elements=[orm.published_lessons.c.lesson_id], set_=values,
            where=orm.published_lessons.c.version <= data.version))
        if data.version != 1:
            return  # a new version of a lesson the students have already been told of
        link = f"{self.settings.public_base_url}/lessons/{data.lesson_id}"
        emails = [self._email(user, "email_new_lesson", subject=f"New lesson: {data.title}",
                              text=f"Hello {user.display_name},\n\na new lesson is ready for you: {data.title}\n{link}\n")
                  for user in await self._recipients(session, "email_new_lesson", role="STUDENT")]
        self._send_after_commit(session, emails)

    async def answer_graded(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        data = envelope.data
        recipients = await self._recipients(session, "email_grades", user_id=data.student_id)
        if not recipients:
            return
        title = (await session.execute(select(orm.published_lessons.c.title).where(
            orm.published_lessons.c.lesson_id == data.lesson_id))).scalar_one_or_none() or "a lesson"
        link = f"{self.settings.public_base_url}/lessons/{data.lesson_id}"
        user = recipients[0]
        self._send_after_commit(session, [self._email(
            user, "email_grades", subject=f"Your answer in {title} was graded",
            text=f"Hello {user.display_name},\n\nyour teacher graded your answer in {title}: "
                 f"{_points(data.score)} of {_points(data.max_score)} points.\n\n{data.reason}\n\n{link}\n")])

    async def _recipients(self, session: AsyncSession, notification: str, *, role: str | None = None,
                          user_id: uuid.UUID | None = None) -> list[Any]:
        """Active users (of a role, or one user) whose preference allows this notification (the default when
        they never changed it)."""
        query = (select(orm.users.c.id, orm.users.c.tenant_id, orm.users.c.email, orm.users.c.display_name,
                        orm.user_preferences.c.preferences)
                 .outerjoin(orm.user_preferences, orm.user_preferences.c.user_id == orm.users.c.id)
                 .where(orm.users.c.status == "ACTIVE"))
        if role is not None:
            query = query.where(orm.users.c.role == role)
        if user_id is not None:
            query = query.where(orm.users.c.id == user_id)
        rows = (await session.execute(query)).all()
        wanted = []
        for row in rows:
            preferences = Preferences.model_validate(row.preferences) if row.preferences else Preferences()
            if getattr(preferences.notifications, notification):
                wanted.append(row)
        return wanted

    def _email(self, user: Any, notification: str, *, subject: str, text: str) -> Email:
        token = unsubscribe.sign(self.unsubscribe_key, unsubscribe.Unsubscription(user.tenant_id, user.id, notification))
        link = f"{self.settings.public_base_url}/unsubscribe?token={token}"
        return Email(to=user.email, subject=subject,
                     text=f"{text}\n--\nYou get this email because of your notification settings. "
                          f"Stop these emails:\n{link}\n",
                     headers={"List-Unsubscribe": f"<{link}>"})

    def _send_after_commit(self, session: AsyncSession, emails: list[Email]) -> None:
        """After the handler's transaction commits (never for a rolled-back or duplicate event)."""
        if not emails:
            return
        loop = asyncio.get_running_loop()

        def send(_: Any) -> None:
            for email in emails:
                task = loop.create_task(send_quietly(self.mailer, email))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)

        event.listen(session.sync_session, "after_commit", send, once=True)


def _points(value: Any) -> str:
    return f"{value.normalize():f}" if hasattr(value, "normalize") else str(value)
