"""A modest load of graded attempts that behaves like the web client, and the ledger that checks it.

The driver is a student answering the questions of a published lesson through assessment's API
(``POST /v1/questions/{id}/attempts``) at a steady rate. Every submission carries an
``Idempotency-Key`` and, like a client that follows our advice, is sent again — same key, same
answer — after a 503, a 5xx or a lost connection, until it is answered 201. It records every 201
(the attempt's id, and when).

The ledger then follows each acknowledged attempt downstream: exactly one
``assessment.attempt.graded.v1`` for it in assessment's outbox, published; claimed once by
progress's and analytics' consumers of assessment's events (their inbox); and their effects:
progress's ``question_results.time_spent_ms`` adds each attempt's ``time_taken_ms`` (1 ms here, so
it counts the attempts) and analytics' ``question_results.attempts`` counts them.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg

from cuepoint.contracts import content
from tests.support.platform import Infra
from tests.support.streams import claims, publish, wait_for_row

from .load import FIGURES, _now

GRADED = "assessment.attempt.graded.v1"
PROGRESS_GROUP = "progress.assessment"  # services/progress/cuepoint/progress/consumers.py
ANALYTICS_GROUP = "analytics.assessment.events"  # services/analytics/cuepoint/analytics/consumers.py
MAX_ATTEMPTS = 20  # the most a question allows (api.PolicyFields)


@dataclass
class Lesson:
    tenant_id: uuid.UUID
    lesson_id: uuid.UUID
    video_id: uuid.UUID
    milestone_id: uuid.UUID
    questions: list[str] = field(default_factory=list)
    setup_s: float = 0.0  # from the content events to the last question approved


async def published_lesson(infra: Infra, connection: psycopg.Connection, api: httpx.AsyncClient,
                           teacher: dict[str, str], *, questions: int) -> Lesson:
    """A published lesson as content announces it (assessment's worker must be running to project it), with
    ``questions`` approved true/false questions of ``MAX_ATTEMPTS`` attempts each, created by the teacher."""
    began = time.monotonic()
    who = claims(teacher)
    teacher_id = uuid.UUID(who["sub"])
    lesson = Lesson(tenant_id=uuid.UUID(who["tid"]), lesson_id=uuid.uuid4(), video_id=uuid.uuid4(),
                    milestone_id=uuid.uuid4())
    await publish(infra, "content.events", [
        content.LessonCreated(lesson_id=lesson.lesson_id, title="Faults", created_by_id=teacher_id),
        content.MilestoneCreated(milestone_id=lesson.milestone_id, video_id=lesson.video_id,
                                 lesson_id=lesson.lesson_id, timestamp=30.0, title="Under load", is_required=True),
        content.LessonPublished(lesson_id=lesson.lesson_id, version=1, title="Faults", created_by_id=teacher_id,
                                video_ids=[lesson.video_id]),
    ], tenant_id=lesson.tenant_id, producer="content", actor_id=teacher_id)
    await wait_for_row(connection, "SELECT count(*) = 1 FROM assessment.lessons WHERE id = %s AND status = 'PUBLISHED'",
                       (lesson.lesson_id,), timeout=60, message="assessment's lessons projection was not fed")
    await wait_for_row(connection, "SELECT count(*) = 1 FROM assessment.milestones WHERE id = %s",
                       (lesson.milestone_id,), timeout=60, message="assessment's milestones projection was not fed")
    for number in range(questions):
        response = await api.post("/v1/questions", headers=teacher, json={
            "lesson_id": str(lesson.lesson_id), "milestone_id": str(lesson.milestone_id),
            "prompt": f"Under load, statement {number} holds.", "content": {"type": "TRUE_FALSE", "correct": True},
            "max_attempts": MAX_ATTEMPTS, "approve": True})
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "APPROVED", response.text
        lesson.questions.append(response.json()["id"])
    lesson.setup_s = time.monotonic() - began
    return lesson


@dataclass
class AttemptAnswers:
    """What the driver saw."""

    sent: int = 0  # submissions (each counted once, however often it was retried)
    acknowledged: int = 0  # submissions answered 201
    requests: int = 0
    retries: int = 0  # requests that repeated a submission
    replayed: int = 0  # 201s that said the submission had been stored before (a retry after a lost answer)
    statuses: Counter = field(default_factory=Counter)  # status (or "error", "raised") → requests
    missing_retry_after: int = 0  # 503s without Retry-After
    slowest_answer_s: float = 0.0
    acked_at: list[float] = field(default_factory=list)  # monotonic time of each 201
    exhausted: bool = False  # every question used up before the load was stopped


class AttemptLoad:
    def __init__(self, api: httpx.AsyncClient, headers: dict[str, str], lesson: Lesson, *,
                 answers_per_second: float = 4, retry_pause: float = 0.5) -> None:
        self.api = api
        self.headers = headers
        self.lesson = lesson
        self.student_id = uuid.UUID(claims(headers)["sub"])
        self.interval = 1 / answers_per_second
        self.retry_pause = retry_pause
        self.answers = AttemptAnswers()
        self.acknowledged: list[str] = []  # attempt ids, in acknowledgement order
        self.per_question: Counter = Counter()  # question id → acknowledged attempts
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> AttemptAnswers:
        """Stops answering; the submission in hand is still retried until acknowledged."""
        self._stop.set()
        assert self._task is not None
        await self._task
        return self.answers

    def acked_between(self, start: float, end: float) -> int:
        return sum(1 for at in self.answers.acked_at if start <= at <= end)

    async def _run(self) -> None:
        for question in self.lesson.questions:
            while self.per_question[question] < MAX_ATTEMPTS:
                if self._stop.is_set():
                    return
                started = time.monotonic()
                self.answers.sent += 1
                await self._submit(question)
                await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - started)))
        self.answers.exhausted = True

    async def _submit(self, question: str) -> None:
        key = str(uuid.uuid4())
        body = {"answer": {"value": False}, "time_taken_ms": 1}  # wrong: the question stays open to the last try
        first = True
        while True:
            self.answers.requests += 1
            self.answers.retries += 0 if first else 1
            first = False
            began = time.monotonic()
            response: httpx.Response | None = None
            try:
                response = await self.api.post(f"/v1/questions/{question}/attempts", timeout=30, json=body,
                                               headers={**self.headers, "Idempotency-Key": key})
                status: int | str = response.status_code
            except httpx.HTTPError:
                status = "error"
            except Exception:  # noqa: BLE001 - the in-process transport re-raises what the app did not handle
                status = "raised"
            self.answers.slowest_answer_s = max(self.answers.slowest_answer_s, time.monotonic() - began)
            self.answers.statuses[status] += 1
            if status == 201:
                assert response is not None
                result = response.json()
                self.answers.replayed += bool(result.get("replayed"))
                self.acknowledged.append(result["attempt_id"])
                self.per_question[question] += 1
                self.answers.acknowledged += 1
                self.answers.acked_at.append(time.monotonic())
                return
            if status == 409:  # the question is used up (it cannot be, unless counting went wrong): the next one
                self.per_question[question] = MAX_ATTEMPTS
                return
            if isinstance(status, int) and status < 500:
                raise AssertionError(f"an attempt answered {status}: {response.text if response else ''}")
            if status == 503 and response is not None and "Retry-After" not in response.headers:
                self.answers.missing_retry_after += 1
            await asyncio.sleep(self.retry_pause)


@dataclass
class AttemptTally:
    acknowledged: int  # distinct attempt ids answered 201
    in_outbox: int  # acknowledged attempts with an AttemptGraded in assessment's outbox
    outbox_duplicated: int  # AttemptGraded rows beyond the first of an attempt
    outbox_lost: int  # acknowledged, no AttemptGraded
    unpublished: int  # AttemptGraded rows of acknowledged attempts not yet published
    progress_claimed: int  # acknowledged attempts' events in progress's inbox (its assessment group)
    progress_lost: int
    analytics_claimed: int
    analytics_lost: int
    progress_effect: int  # attempts progress's question_results counted (time_spent_ms, 1 ms an attempt)
    analytics_effect: int  # attempts analytics' question_results counted
    in_order: bool  # progress claimed them in the partition's order = the order they were acknowledged


def tally(connection: psycopg.Connection, load: AttemptLoad) -> AttemptTally:
    acked = load.acknowledged
    rows = connection.execute(
        "SELECT (value::jsonb)->>'event_id', (value::jsonb)->'data'->>'attempt_id', published_at IS NOT NULL "
        "FROM assessment.outbox WHERE event_type = %s AND key = %s AND (value::jsonb)->'data'->>'lesson_id' = %s",
        (GRADED, str(load.student_id), str(load.lesson.lesson_id))).fetchall()
    per_attempt = Counter(row[1] for row in rows)
    event_of = {row[1]: uuid.UUID(row[0]) for row in rows}
    ids = [event_of[attempt] for attempt in acked if attempt in event_of]
    claimed = {}
    for group in (PROGRESS_GROUP, ANALYTICS_GROUP):
        schema = group.split(".")[0]
        claimed[group] = connection.execute(
            f"SELECT event_id, partition, \"offset\" FROM {schema}.inbox WHERE consumer_group = %s "
            "AND event_id = ANY(%s)", (group, ids)).fetchall()
    place = {event: (partition, offset) for event, partition, offset in claimed[PROGRESS_GROUP]}
    positions = [place[event] for event in ids if event in place]
    questions = [uuid.UUID(q) for q in load.lesson.questions]
    progress_effect = connection.execute(
        "SELECT coalesce(sum(time_spent_ms), 0) FROM progress.question_results WHERE student_id = %s "
        "AND question_id = ANY(%s)", (load.student_id, questions)).fetchone()[0]
    analytics_effect = connection.execute(
        "SELECT coalesce(sum(attempts), 0) FROM analytics.question_results WHERE student_id = %s "
        "AND question_id = ANY(%s)", (load.student_id, questions)).fetchone()[0]
    unique = set(acked)
    return AttemptTally(
        acknowledged=len(unique),
        in_outbox=len(unique & set(per_attempt)),
        outbox_duplicated=sum(count - 1 for count in per_attempt.values()),
        outbox_lost=len(unique - set(per_attempt)),
        unpublished=sum(1 for row in rows if row[1] in unique and not row[2]),
        progress_claimed=len(claimed[PROGRESS_GROUP]),
        progress_lost=len(unique) - len(claimed[PROGRESS_GROUP]),
        analytics_claimed=len(claimed[ANALYTICS_GROUP]),
        analytics_lost=len(unique) - len(claimed[ANALYTICS_GROUP]),
        progress_effect=int(progress_effect),
        analytics_effect=int(analytics_effect),
        in_order=positions == sorted(positions),
    )


def _done(result: AttemptTally) -> bool:
    return (result.outbox_lost == 0 and result.unpublished == 0 and result.progress_lost == 0
            and result.analytics_lost == 0 and result.progress_effect >= result.acknowledged
            and result.analytics_effect >= result.acknowledged)


async def settled(connection: psycopg.Connection, load: AttemptLoad, *, timeout: float = 60
                  ) -> tuple[AttemptTally, float]:
    """The tally once every acknowledged attempt is published, claimed and counted downstream (or ``timeout``
    passed), and how long that took."""
    began = time.monotonic()
    while True:
        result = tally(connection, load)
        if _done(result) or time.monotonic() - began > timeout:
            return result, time.monotonic() - began
        await asyncio.sleep(0.5)


def record(scenario: str, load: AttemptLoad, result: AttemptTally, **figures: Any) -> dict[str, Any]:
    """The attempts' figures: printed (pytest -s shows them) and appended to .local/logs/faults.jsonl."""
    answers = load.answers
    line = {"scenario": scenario, "load": "attempts", "sent": answers.sent, **result.__dict__,
            "requests": answers.requests, "retries": answers.retries, "replayed": answers.replayed,
            "statuses": {str(k): v for k, v in answers.statuses.items()},
            "missing_retry_after": answers.missing_retry_after, "exhausted": answers.exhausted,
            "slowest_answer_s": round(answers.slowest_answer_s, 2), "setup_s": round(load.lesson.setup_s, 2),
            **{k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()}}
    print(f"\nFAULT FIGURES {json.dumps(line)}")
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    with FIGURES.open("a") as out:
        out.write(json.dumps({"at": _now(), **line}) + "\n")
    return line


def assert_clean(line: dict[str, Any]) -> None:
    """No acknowledged attempt lost or duplicated anywhere downstream, all published, never a 500."""
    assert line["acknowledged"] > 0, line
    assert line["outbox_lost"] == 0 and line["outbox_duplicated"] == 0, line
    assert line["unpublished"] == 0, line
    assert line["progress_lost"] == 0 and line["analytics_lost"] == 0, line
    assert line["progress_effect"] == line["acknowledged"], line  # neither less (lost) nor more (applied twice)
    assert line["analytics_effect"] == line["acknowledged"], line
    assert line["in_order"], line
    assert "500" not in line["statuses"] and "raised" not in line["statuses"], line
    assert line["missing_retry_after"] == 0, line
    assert not line["exhausted"], line  # the load ran to the end of the scenario


__all__ = ["AttemptAnswers", "AttemptLoad", "AttemptTally", "Lesson", "assert_clean", "published_lesson", "record",
           "settled", "tally"]
