"""Outgoing email: SMTP when configured, otherwise the service log (local development)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from .domain import unsubscribe
from .domain.notifications import Recipient
from .settings import IdentitySettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    headers: dict[str, str] = field(default_factory=dict)


class Mailer(Protocol):
    async def send(self, email: Email) -> None: ...


class LogMailer:
    """No SMTP server configured: the message, and so its link, goes to the log."""

    async def send(self, email: Email) -> None:
        log.info("email not sent (no SMTP configured); its content follows",
                 extra={"to": email.to, "subject": email.subject, "body": email.text})


class SmtpMailer:
    def __init__(self, settings: IdentitySettings) -> None:
        self.settings = settings

    async def send(self, email: Email) -> None:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = email.to
        message["Subject"] = email.subject
        for name, value in email.headers.items():
            message[name] = value
        message.set_content(email.text)
        password = self.settings.smtp_password.get_secret_value() if self.settings.smtp_password else None
        await aiosmtplib.send(
            message, hostname=self.settings.smtp_host, port=self.settings.smtp_port,
            start_tls=self.settings.smtp_starttls and not self.settings.smtp_tls, use_tls=self.settings.smtp_tls,
            username=self.settings.smtp_username, password=password, timeout=15,
        )
        log.info("email sent", extra={"subject": email.subject})


def mailer_for(settings: IdentitySettings) -> Mailer:
    return SmtpMailer(settings) if settings.smtp_host else LogMailer()


async def send_quietly(mailer: Mailer, email: Email) -> None:
    """Sends after the transaction committed; a failure is logged, the user can ask again."""
    try:
        await mailer.send(email)
    except Exception as error:
        log.error("email could not be sent", extra={"subject": email.subject, "error": repr(error)})


class OutgoingMail:
    """How use cases send: always after their transaction committed, quietly (a failure is logged).
    ``send_later`` does not wait for the SMTP server, so an answer takes the same time whether or not
    an email went out (the timing must not tell who has an account)."""

    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer
        self._tasks: set[asyncio.Task[None]] = set()

    async def send(self, email: Email) -> None:
        await send_quietly(self.mailer, email)

    def send_later(self, email: Email) -> None:
        task = asyncio.create_task(send_quietly(self.mailer, email))
        self._tasks.add(task)  # referenced until done, so it is not collected mid-send
        task.add_done_callback(self._tasks.discard)


def notification_email(recipient: Recipient, notification: str, *, subject: str, text: str, unsubscribe_key: bytes,
                       base_url: str) -> Email:
    """A notification email, with the link that turns this kind off (and the header mail clients show)."""
    token = unsubscribe.sign(unsubscribe_key, unsubscribe.Unsubscription(recipient.tenant_id, recipient.id,
                                                                         notification))
    link = f"{base_url}/unsubscribe?token={token}"
    return Email(to=recipient.email, subject=subject,
                 text=f"{text}\n--\nYou get this email because of your notification settings. "
                      f"Stop these emails:\n{link}\n",
                 headers={"List-Unsubscribe": f"<{link}>"})
