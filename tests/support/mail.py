"""A real SMTP server in the test process: what identity sends (verification, invitations)."""

from __future__ import annotations

import asyncio
import email
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller


@dataclass
class Mailbox:
    messages: list[email.message.Message] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd handler hook
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    async def token_for(self, address: str, timeout: float = 10) -> str:
        """The token in the newest email to ``address``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            for message in reversed(self.messages):
                if message["To"] == address:
                    found = re.search(r"token: (\S+)", body(message))
                    assert found, body(message)
                    return found.group(1)
            await asyncio.sleep(0.05)
        raise AssertionError(f"no email to {address}")


def body(message: email.message.Message) -> str:
    """The decoded text (long lines arrive quoted-printable)."""
    return message.get_payload(decode=True).decode()


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    box.port = port  # type: ignore[attr-defined]
    yield box
    controller.stop()
