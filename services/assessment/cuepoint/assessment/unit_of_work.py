"""assessment's unit of work: a tenant transaction with the repositories its use cases need."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.runtime.unit_of_work import UnitOfWork

from .repositories import (
    Attempts,
    Configurations,
    Grades,
    Jobs,
    Lessons,
    MilestonePolicies,
    PersonalData,
    Milestones,
    Questions,
    Transcripts,
    Usage,
)


class _Repositories:
    lessons: Lessons
    milestones: Milestones
    transcripts: Transcripts
    questions: Questions
    policies: MilestonePolicies
    attempts: Attempts
    grades: Grades
    configurations: Configurations
    jobs: Jobs
    usage: Usage
    personal_data: PersonalData

    def _attach(self, session: AsyncSession) -> None:
        self.lessons = Lessons(session)
        self.milestones = Milestones(session)
        self.transcripts = Transcripts(session)
        self.questions = Questions(session)
        self.policies = MilestonePolicies(session)
        self.attempts = Attempts(session)
        self.grades = Grades(session)
        self.configurations = Configurations(session)
        self.jobs = Jobs(session)
        self.usage = Usage(session)
        self.personal_data = PersonalData(session)


class AssessmentUnitOfWork(_Repositories, UnitOfWork):
    """``units(tenant)`` for a request's use case; ``AssessmentUnitOfWork.joining(session, outbox,
    tenant)`` for one an event runs inside its consumer's transaction."""

    def _open(self, session: AsyncSession) -> None:
        self._attach(session)
