"""Every API process's list of revoked sessions, kept from identity's ``SessionsRevoked`` events.

An access token is valid for at most ``MAX_ACCESS_TOKEN_SECONDS``; a revoked session's tokens
must be refused from the moment identity ends the session until the last of them expires.
So the list reads ``identity.events`` without a consumer group (every process wants every
revocation), starting at the offsets of ``now - lifetime`` rather than at the beginning, and
forgets an entry once that lifetime has passed since its revocation: memory holds at most the
sessions revoked in the last quarter of an hour.

The first check waits for the initial load; if Kafka cannot be reached then, the check raises
``RevocationsUnavailable`` (refusing the request) rather than letting a revoked token through.
After the load, the list follows the topic through broker restarts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from uuid import UUID

from pydantic import ValidationError

from cuepoint.contracts.envelope import Envelope
from cuepoint.contracts.identity import SessionsRevoked
from cuepoint.contracts.topics import IDENTITY_EVENTS

from .topic_follower import TopicFollower

log = logging.getLogger(__name__)

MAX_ACCESS_TOKEN_SECONDS = 900
"""identity issues access tokens for at most this long (its setting is capped here)."""
CLOCK_LEEWAY_SECONDS = 30
"""Tokens are accepted this long past ``exp`` (verifier leeway) and clocks differ a little."""
KEEP_SECONDS = MAX_ACCESS_TOKEN_SECONDS + CLOCK_LEEWAY_SECONDS


class RevocationsUnavailable(Exception):
    pass


class RevokedSessions:
    """Session ids and when each may be forgotten (wall-clock seconds), oldest first."""

    def __init__(self, keep_seconds: float = KEEP_SECONDS, clock=time.time) -> None:
        self.keep_seconds = keep_seconds
        self.clock = clock
        self._forget_at: OrderedDict[UUID, float] = OrderedDict()

    def add(self, session_ids: list[UUID], revoked_at: float) -> None:
        forget_at = revoked_at + self.keep_seconds
        if forget_at <= self.clock():
            return  # every token of these sessions has expired already
        for session_id in session_ids:
            self._forget_at[session_id] = max(forget_at, self._forget_at.pop(session_id, 0.0))
        self.prune()

    def prune(self) -> None:
        # Revocations arrive in (nearly) time order, so the expired ones are at the front; an entry
        # out of order is forgotten a little later than it could be, never earlier.
        now = self.clock()
        while self._forget_at:
            session_id, forget_at = next(iter(self._forget_at.items()))
            if forget_at > now:
                break
            del self._forget_at[session_id]

    def __contains__(self, session_id: UUID) -> bool:
        forget_at = self._forget_at.get(session_id)
        return forget_at is not None and forget_at > self.clock()

    def __len__(self) -> int:
        return len(self._forget_at)

    def apply(self, value: bytes | None) -> None:
        """One record of identity.events that announces revoked sessions."""
        if value is None:
            return
        try:
            envelope = Envelope[SessionsRevoked].model_validate_json(value)
        except ValidationError as error:
            log.error("ignoring an invalid sessions-revoked record", extra={"error": str(error)})
            return
        self.add(list(envelope.data.session_ids), envelope.occurred_at.timestamp())


class RevocationList:
    """``await revoked(session_id)``: true while a revoked session's tokens may still be alive."""

    def __init__(self, bootstrap_servers: str, *, topic_prefix: str = "", load_timeout: float = 10) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic_prefix + IDENTITY_EVENTS.name
        self.load_timeout = load_timeout
        self.sessions = RevokedSessions()
        self._follower = TopicFollower(self.topic, bootstrap_servers, name="session-revocations",
                                       apply=self._apply_all, seek=self._seek_to_live_tokens, start_from="latest")
        self._lock = asyncio.Lock()
        self.loaded = self._follower.loaded

    async def revoked(self, session_id: UUID) -> bool:
        if not self.loaded.is_set():
            async with self._lock:
                if not self.loaded.is_set():
                    try:
                        await self.start()
                    except Exception as error:
                        log.error("cannot load the session revocations", extra={"error": repr(error)})
                        raise RevocationsUnavailable("session revocations cannot be checked right now") from error
        return session_id in self.sessions

    def _apply_all(self, records) -> None:
        wanted = SessionsRevoked.event_type.encode()
        for record in records:
            if any(name == "event_type" and value == wanted for name, value in record.headers or ()):
                self.sessions.apply(record.value)
        self.sessions.prune()

    @staticmethod
    async def _seek_to_live_tokens(consumer, partitions, end) -> None:
        """Only the revocations of the last token lifetime matter: start each partition there."""
        since = int((time.time() - KEEP_SECONDS) * 1000)
        starts = await consumer.offsets_for_times({tp: since for tp in partitions})
        for tp in partitions:
            found = starts.get(tp)
            consumer.seek(tp, found.offset if found is not None else end[tp])

    async def start(self) -> None:
        await self._follower.load(self.load_timeout)

    async def stop(self) -> None:
        await self._follower.stop()
