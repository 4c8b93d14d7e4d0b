"""Email notifications from other services' events: a newly published lesson to the organisation's
students, a teacher's grading of an answer to its student, and each teacher's weekly summary of their
lessons. identity learns of them from content's and assessment's events (it reads no other schema) and
keeps only what the emails need: published lessons' titles and authors, answers counted per lesson,
day and student (five weeks of them).

Each runs as an idempotent consumer's handler (one transaction with its inbox row, so an event
notifies once); the emails go out after that transaction commits, as identity's other emails do,
and each honours the recipient's preference at that moment and links to unsubscribing from its kind.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import distinct, event, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cuepoint.runtime.db import tenant_transaction

from cuepoint.contracts.envelope import Envelope

from . import orm
from .domain import unsubscribe
from .domain.preferences import Preferences
from .mail import Email, Mailer, send_quietly
from .settings import IdentitySettings

log = logging.getLogger(__name__)
ACTIVITY_KEPT = timedelta(weeks=5)


class Notifications:
    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], mailer: Mailer, settings: IdentitySettings,
                 unsubscribe_key: bytes) -> None:
        self.sessions = sessions
        self.mailer = mailer
        self.settings = settings
        self.unsubscribe_key = unsubscribe_key
        self._sending: set[asyncio.Task[None]] = set()

    def handlers(self) -> dict[str, Any]:
        return {
            "content.lesson.published.v1": self.lesson_published,
            "assessment.attempt.score_overridden.v1": self.answer_graded,
            "assessment.attempt.graded.v1": self.answer_counted,
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
                  for user in await self._recipients(session, "email_new_lesson", roles=("STUDENT",))]
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

    async def answer_counted(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        """One more answer in a lesson's day, for its teacher's weekly summary."""
        data = envelope.data
        day = data.answered_at.astimezone(UTC).date()
        if day < (datetime.now(UTC) - ACTIVITY_KEPT).date():
            return  # older than any summary still to be sent (a replay from the start)
        correct = 1 if data.is_correct else 0
        table = orm.lesson_activity
        statement = pg_insert(table).values(tenant_id=envelope.tenant_id, lesson_id=data.lesson_id, day=day,
                                            student_id=data.student_id, attempts=1, correct=correct)
        await session.execute(statement.on_conflict_do_update(
            index_elements=[table.c.lesson_id, table.c.day, table.c.student_id],
            set_={"attempts": table.c.attempts + 1, "correct": table.c.correct + correct}))

    async def weekly_summaries(self, *, week_start: date) -> int:
        """Emails every teacher and admin who asked for it the summary of their lessons in the week from
        ``week_start`` (a Monday), once: a summary recorded as sent is never sent again. How many were sent."""
        async with self.sessions() as session:
            tenants = (await session.execute(select(orm.tenants.c.id).where(orm.tenants.c.status == "ACTIVE"))).all()
        sent = 0
        for (tenant_id,) in tenants:
            async with tenant_transaction(self.sessions, tenant_id) as session:
                await session.execute(orm.lesson_activity.delete().where(
                    orm.lesson_activity.c.day < week_start - ACTIVITY_KEPT))
                emails = []
                for user in await self._recipients(session, "email_weekly_summary", roles=("TEACHER", "ADMIN")):
                    claimed = (await session.execute(pg_insert(orm.weekly_summaries).values(
                        tenant_id=tenant_id, user_id=user.id, week=week_start).on_conflict_do_nothing()
                        .returning(orm.weekly_summaries.c.user_id))).first()
                    if claimed is not None:
                        emails.append(self._email(user, "email_weekly_summary",
                                                  subject=f"Your week on Cuepoint ({week_start:%d %b})",
                                                  text=await self._summary(session, user, week_start)))
                self._send_after_commit(session, emails)
                sent += len(emails)
        return sent

    async def _summary(self, session: AsyncSession, user: Any, week_start: date) -> str:
        activity = orm.lesson_activity
        lessons = orm.published_lessons
        rows = (await session.execute(
            select(lessons.c.lesson_id, lessons.c.title, func.coalesce(func.sum(activity.c.attempts), 0),
                   func.count(distinct(activity.c.student_id)), func.coalesce(func.sum(activity.c.correct), 0))
            .outerjoin(activity, (activity.c.lesson_id == lessons.c.lesson_id) & (activity.c.day >= week_start)
                       & (activity.c.day < week_start + timedelta(days=7)))
            .where(lessons.c.created_by_id == user.id)
            .group_by(lessons.c.lesson_id, lessons.c.title).order_by(lessons.c.title))).all()
        lines = []
        for _, title, attempts, students, correct in rows:
            if attempts:
                lines.append(f"- {title}: {attempts} answers from {students} students, "
                             f"{round(100 * correct / attempts)} % right")
            else:
                lines.append(f"- {title}: no answers this week")
        body = "\n".join(lines) or "You have no published lessons yet."
        return (f"Hello {user.display_name},\n\nyour lessons in the week from {week_start:%d %B %Y}:\n{body}\n\n"
                f"Dashboards: {self.settings.public_base_url}/teach\n")

    async def run_weekly(self, stop: asyncio.Event) -> None:
        """The worker's loop: last week's summaries, sent on the first check of each week."""
        while not stop.is_set():
            today = datetime.now(UTC).date()
            try:
                await self.weekly_summaries(week_start=today - timedelta(days=today.weekday() + 7))
            except Exception as error:  # a database hiccup: the next check tries again
                log.error("weekly summaries failed", extra={"error": repr(error)})
            try:
                await asyncio.wait_for(stop.wait(), self.settings.weekly_summary_check_seconds)
            except TimeoutError:
                pass

    async def _recipients(self, session: AsyncSession, notification: str, *, roles: tuple[str, ...] = (),
                          user_id: uuid.UUID | None = None) -> list[Any]:
        """Active users (of a role, or one user) whose preference allows this notification (the default when
        they never changed it)."""
        query = (select(orm.users.c.id, orm.users.c.tenant_id, orm.users.c.email, orm.users.c.display_name,
                        orm.user_preferences.c.preferences)
                 .outerjoin(orm.user_preferences, orm.user_preferences.c.user_id == orm.users.c.id)
                 .where(orm.users.c.status == "ACTIVE"))
        if roles:
            query = query.where(orm.users.c.role.in_(roles))
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
