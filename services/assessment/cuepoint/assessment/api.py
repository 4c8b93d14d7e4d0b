"""assessment's HTTP API: routes parse, call a use case, and answer."""

import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query
from pydantic import BaseModel, Field, HttpUrl

from cuepoint.runtime.api_models import Offset, Page, Strict
from cuepoint.runtime.auth import CurrentUser, Role, TokenVerifier, authentication, require_role

from cuepoint.contracts.assessment import QuestionType
from cuepoint.runtime.secrets import SecretBox
from cuepoint.runtime.unit_of_work import UnitsOfWork

from . import schemas, views
from .domain.offline_generator import QUESTION_TYPES
from .domain.questions import QuestionContent
from .schemas import Difficulty, Status
from .settings import AssessmentSettings
from .unit_of_work import AssessmentUnitOfWork
from .use_cases import attempts as attempt_cases
from .use_cases import configurations as configuration_cases
from .use_cases import generation as generation_cases
from .use_cases import policies as policy_cases
from .use_cases import questions as question_cases
from .use_cases.policies import ConfigLookup

Price = Annotated[Decimal, Field(ge=0, le=1000, max_digits=12, decimal_places=6)]


class PolicyFields(Strict):
    max_attempts: int | None = Field(default=None, ge=1, le=20,
                                     description="Default: the milestone's, else grading.defaultMaxAttempts.")
    retry_penalty: Decimal | None = Field(default=None, ge=0, le=1, decimal_places=3,
                                          description="Share of the points lost per extra attempt.")
    partial_credit: bool | None = Field(default=None, description="Default: on.")


class QuestionIn(PolicyFields):
    lesson_id: uuid.UUID
    milestone_id: uuid.UUID | None = None
    prompt: str = Field(min_length=1, max_length=2000)
    explanation: str = Field(default="", max_length=4000)
    points: Decimal = Field(default=Decimal(1), gt=0, le=1000, decimal_places=2)
    difficulty: Difficulty = "MEDIUM"
    content: QuestionContent
    approve: bool = Field(default=False, description="Approve at once (it reaches students when the lesson is published).")


class QuestionPatch(PolicyFields):
    milestone_id: uuid.UUID | None = None
    prompt: str | None = Field(default=None, min_length=1, max_length=2000)
    explanation: str | None = Field(default=None, max_length=4000)
    points: Decimal | None = Field(default=None, gt=0, le=1000, decimal_places=2)
    difficulty: Difficulty | None = None
    content: QuestionContent | None = None


class RejectIn(Strict):
    reason: str | None = Field(default=None, max_length=1000)


class BulkApproveIn(Strict):
    question_ids: list[uuid.UUID] = Field(min_length=1, max_length=200)


class GenerationIn(Strict):
    lesson_id: uuid.UUID
    video_id: uuid.UUID | None = Field(default=None, description="Only this video's milestones.")
    milestone_ids: list[uuid.UUID] | None = Field(default=None, max_length=100, description="Only these milestones.")
    count_per_milestone: int = Field(default=3, ge=1, le=10)
    types: list[QuestionType] | None = Field(default=None, description=f"Default: all of {', '.join(QUESTION_TYPES)}.")
    configuration_id: uuid.UUID | None = None
    provider: Literal["OPENAI", "OFFLINE"] | None = Field(default=None, description="Default: ai.defaultProvider.")


class ConfigurationIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    provider: Literal["OPENAI", "OFFLINE"]
    model: str = Field(min_length=1, max_length=100)
    base_url: HttpUrl | None = Field(default=None, description="Any OpenAI-compatible endpoint; default OpenAI's.")
    temperature: Decimal = Field(default=Decimal("0.2"), ge=0, le=2, decimal_places=2)
    max_tokens: int = Field(default=2000, ge=1, le=128000)
    prompt_template: str | None = Field(default=None, min_length=1, max_length=20000,
                                        description="Placeholders: {count} {types} {milestone} {start} {end} "
                                                    "{transcript}. Default: the built-in template.")
    input_price_per_1k: Price = Decimal(0)
    output_price_per_1k: Price = Decimal(0)
    api_key: str | None = Field(default=None, min_length=1, max_length=500, description="Stored encrypted; never returned.")
    is_active: bool = False


class ConfigurationPatch(Strict):
    model: str | None = Field(default=None, min_length=1, max_length=100)
    base_url: HttpUrl | None = None
    temperature: Decimal | None = Field(default=None, ge=0, le=2, decimal_places=2)
    max_tokens: int | None = Field(default=None, ge=1, le=128000)
    prompt_template: str | None = Field(default=None, min_length=1, max_length=20000)
    input_price_per_1k: Price | None = None
    output_price_per_1k: Price | None = None
    api_key: str | None = Field(default=None, max_length=500, description="Empty string removes the key.")
    is_active: bool | None = None


class AttemptIn(Strict):
    answer: dict[str, Any] = Field(description="The answer for the question's type, e.g. `{\"option_ids\": [\"a\"]}`, "
                                               "`{\"value\": true}`, `{\"text\": \"…\"}`, `{\"blanks\": {…}}`, "
                                               "`{\"matches\": {…}}`, `{\"order\": […]}`.")
    time_taken_ms: int | None = Field(default=None, ge=0, le=24 * 3600 * 1000)


class OverrideIn(Strict):
    score: Decimal = Field(ge=0, le=1000, decimal_places=2, description="0 to the attempt's max_score.")
    reason: str = Field(min_length=1, max_length=1000, description="Shown to the student and kept for the record.")


def problems(described: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """A route's 4xx answers, each an RFC 9457 problem."""
    schema = schemas.Problem.model_json_schema()
    return {status: {"description": description, "content": {"application/problem+json": {"schema": schema}}}
            for status, description in described.items()}


def _set(model: BaseModel, *, exclude_unset: bool = True) -> dict[str, Any]:
    values = model.model_dump(exclude_unset=exclude_unset, exclude={"content"})
    if values.get("base_url") is not None:
        values["base_url"] = str(values["base_url"])
    if "content" in model.model_fields_set:
        values["content"] = model.content  # the validated model, not its dump
    return values


def routers(units: UnitsOfWork[AssessmentUnitOfWork], verifier: TokenVerifier, *, config: ConfigLookup,
            box: SecretBox, settings: AssessmentSettings) -> list[APIRouter]:
    authenticated = authentication(lambda request: verifier)
    User = Annotated[CurrentUser, Depends(authenticated)]
    Teacher = Annotated[CurrentUser, Depends(require_role(authenticated, Role.TEACHER))]
    Admin = Annotated[CurrentUser, Depends(require_role(authenticated, Role.ADMIN))]
    Limit = Annotated[int, Query(ge=1, le=100)]

    configurations = APIRouter(prefix="/v1/ai-configurations", tags=["AI"])

    @configurations.post("", status_code=201, response_model=schemas.Configuration,
                         summary="Add an AI provider configuration (API key stored encrypted)")
    async def create_configuration(body: ConfigurationIn, actor: Admin) -> Any:
        command = configuration_cases.CreateConfiguration(actor=actor, **_set(body, exclude_unset=False))
        async with units(actor.tenant_id) as uow:
            result = await configuration_cases.create_configuration(command, uow, box=box)
        return views.configuration(result)

    @configurations.get("", response_model=Page[schemas.Configuration],
                        summary="The organisation's AI configurations (keys never shown)")
    async def list_configurations(actor: Admin, limit: Limit = 100, offset: Offset = 0) -> Any:
        async with units(actor.tenant_id) as uow:
            return await views.configurations(uow, limit, offset)

    @configurations.patch("/{configuration_id}", response_model=schemas.Configuration,
                          summary="Change or (de)activate; one active per provider")
    async def update_configuration(configuration_id: uuid.UUID, body: ConfigurationPatch, actor: Admin) -> Any:
        command = configuration_cases.UpdateConfiguration(
            actor, configuration_id, configuration_cases.ConfigurationChanges(**_set(body)))
        async with units(actor.tenant_id) as uow:
            result = await configuration_cases.update_configuration(command, uow, box=box)
        return views.configuration(result)

    @configurations.post("/{configuration_id}/test", response_model=schemas.ConnectionTest,
                         summary="Test the connection: one tiny request to the provider (a failed test is a 200 "
                                 "with ok false and the problem)",
                         responses=problems({403: "Not an admin", 404: "No such configuration in this organisation"}))
    async def test_configuration(configuration_id: uuid.UUID, actor: Admin) -> Any:
        tested = await configuration_cases.test_configuration(
            configuration_cases.TestConfiguration(actor, configuration_id), units, box=box,
            deadline=settings.ai_test_timeout_seconds)
        return views.connection_test(tested)

    usage = APIRouter(prefix="/v1/ai-usage", tags=["AI"])

    @usage.get("", response_model=schemas.Usage,
               summary="This month's AI spend against the budget (the monthly report: analytics' /v1/dashboards/ai-usage)")
    async def ai_usage(actor: Admin) -> Any:
        async with units(actor.tenant_id) as uow:
            return await views.usage(uow, config, actor.tenant_id)

    jobs = APIRouter(prefix="/v1/generation-jobs", tags=["AI"])

    @jobs.post("", status_code=202, response_model=schemas.GenerationJob,
               summary="Ask the AI for questions (per milestone, video or lesson)")
    async def request_generation(body: GenerationIn, actor: Teacher) -> Any:
        command = generation_cases.RequestGeneration(
            actor, lesson_id=body.lesson_id, video_id=body.video_id, milestone_ids=body.milestone_ids,
            count=body.count_per_milestone, types=body.types, configuration_id=body.configuration_id,
            provider=body.provider)
        async with units(actor.tenant_id) as uow:
            result = await generation_cases.request_generation(command, uow, config=config)
        return views.job(result)

    @jobs.get("", response_model=Page[schemas.GenerationJob], summary="A lesson's generation jobs, newest first")
    async def list_jobs(lesson_id: uuid.UUID, actor: Teacher, limit: Limit = 20, offset: Offset = 0) -> Any:
        async with units(actor.tenant_id) as uow:
            return await views.generation_jobs(uow, actor, lesson_id, limit, offset)

    @jobs.get("/{job_id}", response_model=schemas.GenerationJob, summary="A job's status; a failed job says why")
    async def get_job(job_id: uuid.UUID, actor: Teacher) -> Any:
        async with units(actor.tenant_id) as uow:
            return await views.generation_job(uow, actor, job_id)

    queue = APIRouter(prefix="/v1/generation-queue", tags=["AI"])

    @queue.get("", response_model=schemas.GenerationQueue,
               summary="The organisation's generation queue: jobs waiting and running, the oldest waiting, the "
                       "bounds jobs run within",
               responses=problems({403: "Not an admin"}))
    async def generation_queue(actor: Admin) -> Any:
        async with units(actor.tenant_id) as uow:
            return await views.generation_queue(uow, settings)

    questions = APIRouter(prefix="/v1/questions", tags=["questions"])

    @questions.post("", status_code=201, response_model=schemas.AuthoredQuestion,
                    summary="Write a question by hand (a draft unless approve is set)")
    async def create_question(body: QuestionIn, actor: Teacher) -> Any:
        command = question_cases.CreateQuestion(
            actor=actor, content=body.content, **body.model_dump(exclude={"content"}))
        async with units(actor.tenant_id) as uow:
            result = await question_cases.create_question(command, uow)
        return views.teacher_view(result)

    @questions.get("", response_model=Page[schemas.AuthoredQuestion],
                   summary="The review queue: filter by lesson, status, video, milestone")
    async def review_queue(actor: Teacher, lesson_id: uuid.UUID | None = None, status: Status | None = None,
                           video_id: uuid.UUID | None = None, milestone_id: uuid.UUID | None = None,
                           limit: Limit = 50, offset: Offset = 0) -> Any:
        async with units(actor.tenant_id) as uow:
            return await views.review_queue(uow, actor, lesson_id=lesson_id, status=status, video_id=video_id,
                                            milestone_id=milestone_id, limit=limit, offset=offset)

    @questions.post("/approve", response_model=schemas.BulkApproval,
                    summary="Approve several drafts at once; rejected ones are skipped (and named), never re-approved")
    async def bulk_approve(body: BulkApproveIn, actor: Teacher) -> Any:
        async with units(actor.tenant_id) as uow:
            result = await question_cases.bulk_approve(
                question_cases.BulkApprove(actor, body.question_ids), uow)
        return views.bulk_approval(result)

    @questions.get("/{question_id}", response_model=schemas.AnyQuestion,
                   summary="Teachers see everything (view AUTHOR); students an approved question, no key (STUDENT)")
    async def get_question(question_id: uuid.UUID, actor: User) -> Any:
        async with units(actor.tenant_id) as uow:
            return await views.question(uow, config, actor, question_id)

    @questions.patch("/{question_id}", response_model=schemas.AuthoredQuestion, summary="Edit a question")
    async def edit_question(question_id: uuid.UUID, body: QuestionPatch, actor: Teacher) -> Any:
        command = question_cases.EditQuestion(actor, question_id, question_cases.QuestionChanges(**_set(body)))
        async with units(actor.tenant_id) as uow:
            result = await question_cases.edit_question(command, uow)
        return views.teacher_view(result)

    @questions.post("/{question_id}/approve", response_model=schemas.AuthoredQuestion,
                    summary="Approve, optionally with edits in the body")
    async def approve(question_id: uuid.UUID, actor: Teacher, body: QuestionPatch | None = None) -> Any:
        changes = question_cases.QuestionChanges(**_set(body)) if body else question_cases.QuestionChanges()
        command = question_cases.EditQuestion(actor, question_id, changes, approve=True)
        async with units(actor.tenant_id) as uow:
            result = await question_cases.edit_question(command, uow)
        return views.teacher_view(result)

    @questions.post("/{question_id}/reject", response_model=schemas.AuthoredQuestion,
                    summary="Reject, with a reason for the record")
    async def reject(question_id: uuid.UUID, actor: Teacher, body: RejectIn | None = None) -> Any:
        command = question_cases.RejectQuestion(actor, question_id, body.reason if body else None)
        async with units(actor.tenant_id) as uow:
            result = await question_cases.reject_question(command, uow)
        return views.teacher_view(result)

    @questions.post("/{question_id}/attempts", status_code=201, response_model=schemas.AttemptResult,
                    summary="Answer a question; graded at once. Send an Idempotency-Key to make retries safe")
    async def attempt(question_id: uuid.UUID, body: AttemptIn, actor: User,
                      idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None) -> Any:
        command = attempt_cases.SubmitAttempt(actor, question_id, answer=body.answer, idempotency_key=idempotency_key,
                                              time_taken_ms=body.time_taken_ms)
        async with units(actor.tenant_id) as uow:
            result = await attempt_cases.submit_attempt(command, uow, config=config)
        return views.attempt_result(result)

    attempts = APIRouter(prefix="/v1/attempts", tags=["questions"])

    @attempts.get("", response_model=Page[schemas.QuestionAttempts],
                  summary="A student's latest answer per question of a milestone or lesson: one's own, or (for the "
                          "lesson's author) a student's")
    async def list_attempts(actor: User, milestone_id: uuid.UUID | None = None, lesson_id: uuid.UUID | None = None,
                            student_id: Annotated[uuid.UUID | None, Query(
                                description="Teachers: a student of their lesson. Default: the caller.")] = None,
                            limit: Limit = 50, offset: Offset = 0) -> Any:
        async with units(actor.tenant_id) as uow:
            return await views.attempts(uow, config, actor, milestone_id=milestone_id, lesson_id=lesson_id,
                                        student_id=student_id, limit=limit, offset=offset)

    @attempts.post("/{attempt_id}/override", response_model=schemas.ScoreOverride,
                   summary="Override the score of a student's typed answer (short answer, fill in the blank), "
                           "with a reason; the grades follow",
                   responses=problems({
                       403: "Not the lesson's author (nor an admin)",
                       404: "No such attempt in this organisation (or the caller is a student)",
                       409: "The question's answers are graded by their key (not a typed answer)",
                       422: "The score is outside 0..max_score, or the body is malformed"}))
    async def override_score(attempt_id: uuid.UUID, body: OverrideIn, actor: User) -> Any:
        command = attempt_cases.OverrideScore(actor, attempt_id, score=body.score, reason=body.reason)
        async with units(actor.tenant_id) as uow:
            result = await attempt_cases.override_score(command, uow, config=config)
        return views.score_override(result)

    milestones = APIRouter(prefix="/v1/milestones", tags=["questions"])

    @milestones.get("/{milestone_id}/questions", response_model=schemas.MilestoneQuestions,
                    summary="A milestone's approved questions as a student sees them")
    async def milestone_questions(milestone_id: uuid.UUID, actor: User) -> Any:
        async with units(actor.tenant_id) as uow:
            return await views.milestone_questions(uow, config, actor, milestone_id)

    @milestones.put("/{milestone_id}/policy", response_model=schemas.MilestonePolicy,
                    summary="Attempts, retry penalty and partial credit for a milestone")
    async def milestone_policy(milestone_id: uuid.UUID, body: PolicyFields, actor: Teacher) -> Any:
        command = policy_cases.SetMilestonePolicy(actor, milestone_id, **body.model_dump())
        async with units(actor.tenant_id) as uow:
            result = await policy_cases.set_milestone_policy(command, uow)
        return views.milestone_policy(result)

    grades = APIRouter(prefix="/v1/grades", tags=["grades"])

    @grades.get("", response_model=Page[schemas.Grade],
                summary="Grades per milestone, video and lesson: a student's own, a teacher's lesson's")
    async def list_grades(lesson_id: uuid.UUID, actor: User, student_id: uuid.UUID | None = None,
                          limit: Limit = 100, offset: Offset = 0) -> Any:
        async with units(actor.tenant_id) as uow:
            return await views.grades(uow, actor, lesson_id=lesson_id, student_id=student_id, limit=limit,
                                      offset=offset)

    return [configurations, usage, jobs, queue, questions, attempts, milestones, grades]
