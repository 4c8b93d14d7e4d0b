"""What a student does to their sessions: end one (e.g. a lost device)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from cuepoint.contracts import progress as events
from cuepoint.runtime.actor import CurrentUser
from cuepoint.runtime.errors import Conflict, NotFound

from ..domain.sessions import StudentSession
from ..unit_of_work import ProgressUnitOfWork


@dataclass(frozen=True)
class EndSession:
    actor: CurrentUser
    session_id: uuid.UUID


async def end_session(command: EndSession, uow: ProgressUnitOfWork, *, now: datetime) -> StudentSession:
    """Only one's own session (another's is not found), once; announced as SessionEndedV2, which the
    projection also applies (a no-op here: already ended)."""
    actor = command.actor
    found = await uow.sessions.get(command.session_id, student_id=actor.id, lock=True)
    if found is None:
        raise NotFound(f"no session {command.session_id}")
    if found.ended_at is not None:
        raise Conflict("this session has ended already")
    await uow.sessions.end(found.id, now)
    await uow.emit(events.SessionEndedV2(student_id=actor.id, session_id=found.id, ended_at=now), actor_id=actor.id)
    ended = await uow.sessions.get(found.id, student_id=actor.id)
    assert ended is not None
    return ended
