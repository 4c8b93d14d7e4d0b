"""Each teacher's (and admin's) weekly summary of their lessons, for those who asked for it: sent
once per user and week, by the worker on its first check of each week."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cuepoint.runtime.unit_of_work import UnitsOfWork

from ..domain.notifications import ACTIVITY_KEPT, weekly_summary
from ..mail import Email, OutgoingMail, notification_email
from ..settings import IdentitySettings
from ..unit_of_work import IdentityUnitOfWork


@dataclass(frozen=True)
class SendWeeklySummaries:
    week_start: date
    """A Monday."""


async def send_weekly_summaries(command: SendWeeklySummaries, units: UnitsOfWork[IdentityUnitOfWork], *,
                                mail: OutgoingMail, settings: IdentitySettings, unsubscribe_key: bytes) -> int:
    """Emails every teacher and admin who asked for it the summary of their lessons in the week, once: a
    summary recorded as sent is never sent again. How many were sent."""
    week = command.week_start
    async with units(None) as uow:
        tenant_ids = await uow.tenants.active_ids()
    sent = 0
    for tenant_id in tenant_ids:
        emails: list[Email] = []
        async with units(tenant_id) as uow:
            await uow.lesson_activity.forget_before(week - ACTIVITY_KEPT)
            for recipient in await uow.recipients.of("email_weekly_summary", roles=("TEACHER", "ADMIN")):
                if await uow.weekly_summaries.claim(tenant_id, recipient.id, week):
                    lessons = await uow.lesson_activity.week_of(recipient.id, week)
                    emails.append(notification_email(
                        recipient, "email_weekly_summary", subject=f"Your week on Cuepoint ({week:%d %b})",
                        text=weekly_summary(recipient.display_name, week, lessons, settings.public_base_url),
                        unsubscribe_key=unsubscribe_key, base_url=settings.public_base_url))
        for email in emails:  # once the claims committed
            mail.send_later(email)
        sent += len(emails)
    return sent
