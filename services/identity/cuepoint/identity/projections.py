"""What identity keeps of other services' events, and the notification emails they cause: a newly
published lesson to the organisation's students, a teacher's grading of an answer to its student.
identity learns of them from content's and assessment's events (it reads no other schema) and keeps
only what the emails need: published lessons' titles and authors, and answers counted per lesson,
day and student (five weeks of them) for the weekly summaries (use_cases/weekly_summaries.py).

Each runs as an idempotent consumer's handler (one transaction with its inbox row, so an event
notifies once); the emails go out after that transaction commits, as identity's other emails do,
and each honours the recipient's preference at that moment and links to unsubscribing from its kind.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.contracts.envelope import Envelope
from cuepoint.runtime.upserts import upsert_if_newer

from . import orm
from .domain.notifications import ACTIVITY_KEPT, points
from .mail import Email, OutgoingMail, notification_email
from .repositories import Recipients
from .sensitive import SensitiveFields
from .settings import IdentitySettings


class Notifications:
    def __init__(self, *, mail: OutgoingMail, settings: IdentitySettings, unsubscribe_key: bytes,
                 fields: SensitiveFields) -> None:
        self.mail = mail
        self.fields = fields  # recipients' addresses are stored encrypted
        self.settings = settings
        self.unsubscribe_key = unsubscribe_key

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
        await upsert_if_newer(session, orm.published_lessons,
                              {"lesson_id": data.lesson_id, "tenant_id": envelope.tenant_id, **values},
                              changes=values, keys=["lesson_id"], newer_by="version")
        if data.version != 1:
            return  # a new version of a lesson the students have already been told of
        link = f"{self.settings.public_base_url}/lessons/{data.lesson_id}"
        emails = [self._email(user, "email_new_lesson", subject=f"New lesson: {data.title}",
                              text=f"Hello {user.display_name},\n\na new lesson is ready for you: {data.title}\n{link}\n")
                  for user in await Recipients(session, self.fields).of("email_new_lesson", roles=("STUDENT",))]
        self._send_after_commit(session, emails)

    async def answer_graded(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        data = envelope.data
        recipients = await Recipients(session, self.fields).of("email_grades", user_id=data.student_id)
        if not recipients:
            return
        title = (await session.execute(select(orm.published_lessons.c.title).where(
            orm.published_lessons.c.lesson_id == data.lesson_id))).scalar_one_or_none() or "a lesson"
        link = f"{self.settings.public_base_url}/lessons/{data.lesson_id}"
        user = recipients[0]
        self._send_after_commit(session, [self._email(
            user, "email_grades", subject=f"Your answer in {title} was graded",
            text=f"Hello {user.display_name},\n\nyour teacher graded your answer in {title}: "
                 f"{points(data.score)} of {points(data.max_score)} points.\n\n{data.reason}\n\n{link}\n")])

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

    def _email(self, user: Any, notification: str, *, subject: str, text: str) -> Email:
        return notification_email(user, notification, subject=subject, text=text,
                                  unsubscribe_key=self.unsubscribe_key, base_url=self.settings.public_base_url)

    def _send_after_commit(self, session: AsyncSession, emails: list[Email]) -> None:
        """After the handler's transaction commits (never for a rolled-back or duplicate event)."""
        if not emails:
            return
        loop = asyncio.get_running_loop()

        def send(_: Any) -> None:
            for email in emails:
                loop.call_soon(self.mail.send_later, email)

        event.listen(session.sync_session, "after_commit", send, once=True)
