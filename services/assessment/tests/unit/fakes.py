"""In-memory stand-ins of repositories.py for unit tests of use cases: the same methods, rows kept in
dicts of one shared ``World`` (some reads join tables, as the SQL does). Rows have every column of
their table (orm.py), None where nothing was given, and read by attribute like SQLAlchemy rows."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cuepoint.assessment import orm
from cuepoint.runtime.auth import CurrentUser, Role
from cuepoint.runtime.errors import NotFound
from cuepoint.runtime.unit_of_work import FakeUnitsOfWork

TENANT = uuid.UUID("00000000-0000-0000-0000-0000000000aa")


class Row:
    """A row: attributes, and ``_asdict`` as SQLAlchemy's rows have."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def _asdict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __repr__(self) -> str:
        return f"Row({self.__dict__})"


def row_of(table: Any, **values: Any) -> Row:
    unknown = set(values) - set(table.c.keys())
    assert not unknown, f"not columns of {table.name}: {unknown}"
    return Row(**{name: values.get(name) for name in table.c.keys()})


def _now() -> datetime:
    return datetime.now(UTC)


def user(role: Role = Role.TEACHER, *, tenant_id: uuid.UUID = TENANT, user_id: uuid.UUID | None = None) -> CurrentUser:
    return CurrentUser(id=user_id or uuid.uuid4(), tenant_id=tenant_id, role=role, session_id=uuid.uuid4())


@dataclass
class World:
    """Every table the use cases touch, by primary key."""

    lessons: dict[uuid.UUID, Row] = field(default_factory=dict)
    milestones: dict[uuid.UUID, Row] = field(default_factory=dict)
    transcripts: dict[tuple[uuid.UUID, str], Row] = field(default_factory=dict)
    questions: dict[uuid.UUID, Row] = field(default_factory=dict)
    policies: dict[uuid.UUID, Row] = field(default_factory=dict)
    attempts: dict[uuid.UUID, Row] = field(default_factory=dict)
    grades: dict[tuple[uuid.UUID, str, uuid.UUID], Row] = field(default_factory=dict)
    configurations: dict[uuid.UUID, Row] = field(default_factory=dict)
    jobs: dict[uuid.UUID, Row] = field(default_factory=dict)
    queue: dict[uuid.UUID, Row] = field(default_factory=dict)
    usage: list[Row] = field(default_factory=list)
    locks: list[str] = field(default_factory=list)
    graded_tenants: list[uuid.UUID] = field(default_factory=list)
    tenant: uuid.UUID | None = None  # what switch_tenant set last

    # --- building a world ---------------------------------------------------------------------------

    def lesson(self, author: CurrentUser, *, status: str = "PUBLISHED", auto_generate: bool = False) -> Row:
        row = row_of(orm.lessons, id=uuid.uuid4(), tenant_id=author.tenant_id, title="A lesson",
                     created_by_id=author.id, status=status, auto_generate_questions=auto_generate,
                     updated_at=_now())
        self.lessons[row.id] = row
        return row

    def milestone(self, lesson: Row, *, video_id: uuid.UUID | None = None, timestamp: float = 10.0,
                  required: bool = True, deleted: bool = False) -> Row:
        row = row_of(orm.milestones, id=uuid.uuid4(), tenant_id=lesson.tenant_id, video_id=video_id or uuid.uuid4(),
                     lesson_id=lesson.id, timestamp=timestamp, title=f"at {timestamp}", is_required=required,
                     deleted=deleted, updated_at=_now())
        self.milestones[row.id] = row
        return row

    def transcript(self, lesson: Row, video_id: uuid.UUID, segments: list[dict[str, Any]] | None = None,
                   language: str = "en") -> Row:
        row = row_of(orm.transcripts, video_id=video_id, language=language, tenant_id=lesson.tenant_id,
                     lesson_id=lesson.id, segments=segments or [], updated_at=_now())
        self.transcripts[(video_id, language)] = row
        return row

    def question(self, lesson: Row, content: Any, *, milestone: Row | None = None, status: str = "APPROVED",
                 points: Decimal = Decimal(1), **values: Any) -> Row:
        row = row_of(orm.questions, **{
            "id": uuid.uuid4(), "tenant_id": lesson.tenant_id, "lesson_id": lesson.id,
            "milestone_id": milestone.id if milestone else None, "video_id": milestone.video_id if milestone else None,
            "type": content.type, "prompt": "A question?", "content": content.model_dump(mode="json"),
            "explanation": "Because.", "points": points, "difficulty": "MEDIUM", "status": status,
            "source": "MANUAL", "created_at": _now(), "updated_at": _now(), **values})
        self.questions[row.id] = row
        return row

    def configuration(self, *, provider: str = "OPENAI", active: bool = True, name: str | None = None,
                      **values: Any) -> Row:
        row = row_of(orm.ai_configurations, **{
            "id": uuid.uuid4(), "tenant_id": TENANT, "name": name or f"{provider} {uuid.uuid4().hex[:4]}",
            "provider": provider, "model": "gpt-test", "temperature": Decimal("0.2"), "max_tokens": 2000,
            "prompt_template": None, "input_price_per_1k": Decimal(0), "output_price_per_1k": Decimal(0),
            "api_key_encrypted": None, "is_active": active, "created_at": _now(), "updated_at": _now(), **values})
        self.configurations[row.id] = row
        return row

    def units(self) -> FakeUnitsOfWork:
        return FakeUnitsOfWork(
            lessons=FakeLessons(self), milestones=FakeMilestones(self), transcripts=FakeTranscripts(self),
            questions=FakeQuestions(self), policies=FakeMilestonePolicies(self), attempts=FakeAttempts(self),
            grades=FakeGrades(self), configurations=FakeConfigurations(self), jobs=FakeJobs(self),
            usage=FakeUsage(self))


def config_lookup(values: dict[str, Any] | None = None) -> Callable[[str, uuid.UUID | None], Awaitable[Any]]:
    """The config view's lookup with the defaults use cases ask for; ``asked`` records each key asked."""
    known = {"grading.defaultMaxAttempts": 3, "grading.passingThreshold": 70, "ai.defaultProvider": "OFFLINE",
             "ai.monthlyBudgetUsd": 10, **(values or {})}

    async def lookup(key: str, tenant_id: uuid.UUID | None) -> Any:
        lookup.asked.append(key)  # type: ignore[attr-defined]
        return known[key]

    lookup.asked = []  # type: ignore[attr-defined]
    return lookup


class _Repository:
    def __init__(self, world: World) -> None:
        self.world = world


class FakeLessons(_Repository):
    async def get(self, lesson_id: uuid.UUID) -> Row | None:
        return self.world.lessons.get(lesson_id)


class FakeMilestones(_Repository):
    async def get(self, milestone_id: uuid.UUID) -> Row:
        if milestone_id not in self.world.milestones:
            raise NotFound(f"no milestone {milestone_id}")
        return self.world.milestones[milestone_id]

    async def live(self, milestone_id: uuid.UUID) -> Row | None:
        row = self.world.milestones.get(milestone_id)
        return row if row is not None and not row.deleted else None

    async def of_lesson(self, lesson_id: uuid.UUID, *, video_id: uuid.UUID | None,
                        milestone_ids: list[uuid.UUID] | None) -> list[Row]:
        rows = [m for m in self.world.milestones.values() if m.lesson_id == lesson_id and not m.deleted
                and (video_id is None or m.video_id == video_id) and (not milestone_ids or m.id in milestone_ids)]
        return sorted(rows, key=lambda m: m.timestamp)

    async def live_among(self, milestone_ids: list[uuid.UUID]) -> list[Row]:
        rows = [m for m in self.world.milestones.values() if m.id in milestone_ids and not m.deleted]
        return sorted(rows, key=lambda m: (str(m.video_id), m.timestamp))

    async def timestamps(self, video_ids: set[uuid.UUID]) -> list[tuple[uuid.UUID, float]]:
        return [(m.video_id, m.timestamp) for m in self.world.milestones.values()
                if m.video_id in video_ids and not m.deleted]

    async def uncovered_by_automatic_jobs(self, video_id: uuid.UUID) -> list[uuid.UUID]:
        covered = {m for job in self.world.jobs.values() if job.trigger == "AUTOMATIC" for m in job.milestone_ids}
        rows = [m for m in self.world.milestones.values()
                if m.video_id == video_id and not m.deleted and m.id not in covered]
        return [m.id for m in sorted(rows, key=lambda m: m.timestamp)]


class FakeTranscripts(_Repository):
    async def videos_with_one(self, video_ids: set[uuid.UUID]) -> set[uuid.UUID]:
        return {video for video, _ in self.world.transcripts if video in video_ids}

    async def segments(self, video_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
        found: dict[uuid.UUID, list[dict[str, Any]]] = {}
        for (video, language), row in sorted(self.world.transcripts.items(),
                                             key=lambda item: (item[0][1] != "en", item[0][1])):
            if video in video_ids:
                found.setdefault(video, row.segments)
        return found


class FakeQuestions(_Repository):
    async def get(self, question_id: uuid.UUID, *, lock: bool = False) -> Row:
        if question_id not in self.world.questions:
            raise NotFound(f"no question {question_id}")
        return Row(**self.world.questions[question_id]._asdict())  # a snapshot, as a fetched row is

    async def find(self, question_id: uuid.UUID, *, lock: bool = False) -> Row | None:
        row = self.world.questions.get(question_id)
        return Row(**row._asdict()) if row is not None else None

    async def answerable(self, question_id: uuid.UUID, *, lock: bool = False) -> Row:
        row = self.world.questions.get(question_id)
        lesson = self.world.lessons.get(row.lesson_id) if row is not None else None
        milestone = self.world.milestones.get(row.milestone_id) if row is not None and row.milestone_id else None
        if row is None or row.status != "APPROVED" or lesson is None or lesson.status != "PUBLISHED" \
                or (milestone is not None and milestone.deleted):
            raise NotFound(f"no question {question_id}")
        return Row(**row._asdict())

    async def add(self, **values: Any) -> None:
        row = row_of(orm.questions, **values)
        self.world.questions[row.id] = row

    async def update(self, question_id: uuid.UUID, **values: Any) -> None:
        self.world.questions[question_id].__dict__.update(values)


class FakeMilestonePolicies(_Repository):
    async def get(self, milestone_id: uuid.UUID | None, *, lock: bool = False) -> Row | None:
        return self.world.policies.get(milestone_id) if milestone_id is not None else None

    async def put(self, milestone_id: uuid.UUID, tenant_id: uuid.UUID, values: dict[str, Any]) -> None:
        self.world.policies[milestone_id] = row_of(orm.milestone_policies, milestone_id=milestone_id,
                                                   tenant_id=tenant_id, updated_at=_now(), **values)


class FakeAttempts(_Repository):
    async def lock(self, student_id: uuid.UUID, question_id: uuid.UUID) -> None:
        self.world.locks.append(f"attempt:{student_id}:{question_id}")

    async def by_idempotency_key(self, student_id: uuid.UUID, key: str) -> Row | None:
        return next((a for a in self.world.attempts.values()
                     if a.student_id == student_id and a.idempotency_key == key), None)

    async def history(self, student_id: uuid.UUID, question_id: uuid.UUID) -> list[bool]:
        return [a.is_correct for a in self._of(student_id, question_id)]

    def _of(self, student_id: uuid.UUID, question_id: uuid.UUID) -> list[Row]:
        return sorted((a for a in self.world.attempts.values()
                       if a.student_id == student_id and a.question_id == question_id),
                      key=lambda a: a.attempt_number)

    async def add(self, **values: Any) -> None:
        row = row_of(orm.question_attempts, **values)
        self.world.attempts[row.id] = row

    async def get(self, attempt_id: uuid.UUID, *, lock: bool = False) -> Row:
        if attempt_id not in self.world.attempts:
            raise NotFound(f"no attempt {attempt_id}")
        return Row(**self.world.attempts[attempt_id]._asdict())

    async def whose(self, attempt_id: uuid.UUID) -> Row | None:
        row = self.world.attempts.get(attempt_id)
        return Row(student_id=row.student_id, question_id=row.question_id) if row is not None else None

    async def update(self, attempt_id: uuid.UUID, **values: Any) -> None:
        self.world.attempts[attempt_id].__dict__.update(values)

    async def best(self, student_id: uuid.UUID, question_id: uuid.UUID) -> Decimal | None:
        return max((a.score for a in self._of(student_id, question_id)), default=None)


class FakeGrades(_Repository):
    async def lesson_questions(self, lesson_id: uuid.UUID, student_id: uuid.UUID) -> list[Row]:
        rows = []
        for q in self.world.questions.values():
            milestone = self.world.milestones.get(q.milestone_id) if q.milestone_id else None
            if q.lesson_id != lesson_id or q.status != "APPROVED" or (milestone is not None and milestone.deleted):
                continue
            scores = [a.score for a in self.world.attempts.values()
                      if a.student_id == student_id and a.question_id == q.id and a.lesson_id == lesson_id]
            rows.append(Row(id=q.id, milestone_id=q.milestone_id, video_id=q.video_id, points=q.points,
                            required=bool(milestone.is_required) if milestone else False,
                            best=max(scores) if scores else None))
        return rows

    async def get(self, student_id: uuid.UUID, scope: str, scope_id: uuid.UUID) -> Row | None:
        row = self.world.grades.get((student_id, scope, scope_id))
        return Row(**row._asdict()) if row is not None else None

    async def put(self, *, tenant_id: uuid.UUID, student_id: uuid.UUID, scope: str, scope_id: uuid.UUID,
                  lesson_id: uuid.UUID, values: dict[str, Any]) -> None:
        key = (student_id, scope, scope_id)
        if key in self.world.grades:
            self.world.grades[key].__dict__.update(values)
        else:
            self.world.grades[key] = row_of(orm.grades, id=uuid.uuid4(), tenant_id=tenant_id, student_id=student_id,
                                            scope=scope, scope_id=scope_id, lesson_id=lesson_id, **values)

    async def judge_again(self, threshold: Decimal, now: datetime) -> list[Row]:
        flipped = []
        for row in self.world.grades.values():
            if self.world.tenant is not None and row.tenant_id != self.world.tenant:
                continue
            if row.passed != (row.percent >= threshold):
                row.passed, row.updated_at = row.percent >= threshold, now
                flipped.append(Row(**row._asdict()))
        return flipped

    async def graded_tenants(self) -> list[uuid.UUID]:
        return list(self.world.graded_tenants)

    async def switch_tenant(self, tenant_id: uuid.UUID) -> None:
        self.world.tenant = tenant_id


class FakeConfigurations(_Repository):
    async def get(self, configuration_id: uuid.UUID, *, noun: str = "AI configuration", lock: bool = False) -> Row:
        if configuration_id not in self.world.configurations:
            raise NotFound(f"no {noun} {configuration_id}")
        return Row(**self.world.configurations[configuration_id]._asdict())

    async def find(self, configuration_id: uuid.UUID) -> Row | None:
        row = self.world.configurations.get(configuration_id)
        return Row(**row._asdict()) if row is not None else None

    async def named(self, name: str) -> bool:
        return any(row.name == name for row in self.world.configurations.values())

    async def active(self, provider: str) -> Row | None:
        rows = [r for r in self.world.configurations.values() if r.provider == provider and r.is_active]
        return max(rows, key=lambda r: r.updated_at, default=None)

    async def add(self, **values: Any) -> None:
        row = row_of(orm.ai_configurations, **values)
        self.world.configurations[row.id] = row

    async def update(self, configuration_id: uuid.UUID, **values: Any) -> None:
        self.world.configurations[configuration_id].__dict__.update(values)

    async def deactivate_others(self, provider: str, keep: uuid.UUID) -> list[Row]:
        switched = []
        for row in self.world.configurations.values():
            if row.provider == provider and row.id != keep and row.is_active:
                row.is_active, row.updated_at = False, _now()
                switched.append(Row(**row._asdict()))
        return switched


class FakeJobs(_Repository):
    async def get(self, job_id: uuid.UUID) -> Row:
        if job_id not in self.world.jobs:
            raise NotFound(f"no job {job_id}")
        return Row(**self.world.jobs[job_id]._asdict())

    async def find(self, job_id: uuid.UUID) -> Row | None:
        row = self.world.jobs.get(job_id)
        return Row(**row._asdict()) if row is not None else None

    async def add(self, **values: Any) -> None:
        row = row_of(orm.generation_jobs, runs=0, **values)
        self.world.jobs[row.id] = row
        self.world.queue[row.id] = row_of(orm.generation_queue, job_id=row.id, tenant_id=row.tenant_id,
                                          provider=row.provider, runs=0, available_at=_now())

    async def start(self, job_id: uuid.UUID, runs: int) -> None:
        self.world.jobs[job_id].__dict__.update(status="RUNNING", runs=runs, started_at=_now())

    async def finish(self, job_id: uuid.UUID, *, status: str, error: str | None, question_count: int) -> None:
        self.world.jobs[job_id].__dict__.update(status=status, error=error, question_count=question_count,
                                                finished_at=_now())
        await self.dequeue(job_id)

    async def requeue(self, job_id: uuid.UUID, *, reason: str, after_seconds: float) -> None:
        self.world.jobs[job_id].__dict__.update(status="QUEUED", error=reason)
        if job_id in self.world.queue:
            self.world.queue[job_id].__dict__.update(leased_at=None)

    async def dequeue(self, job_id: uuid.UUID) -> None:
        self.world.queue.pop(job_id, None)

    async def renew_lease(self, job_id: uuid.UUID, leased_at: datetime, seconds: float) -> bool:
        row = self.world.queue.get(job_id)
        return row is not None and row.leased_at == leased_at

    async def serialise_auto_generation(self, video_id: uuid.UUID) -> None:
        self.world.locks.append(f"auto-generate:{video_id}")


class FakeUsage(_Repository):
    async def spent_this_month(self) -> Decimal:
        return sum((row.cost for row in self.world.usage), Decimal(0))

    async def add(self, **values: Any) -> None:
        self.world.usage.append(row_of(orm.ai_usage_logs, **values))
