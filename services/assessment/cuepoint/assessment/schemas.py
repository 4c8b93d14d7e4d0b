"""What assessment's routes answer: the response models its OpenAPI document (and so the web
client's generated types) is made of.

A student's view of a question never holds its answer key: the student content models have no
field for one and refuse unknown fields, and the explanation and ``correct_answer`` of an attempt
exist only once the question is settled for that student (``domain.grading.settled``) — a model
holding them earlier refuses to be built, so a mistake answers 500 instead of leaking the key.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, PlainSerializer, model_serializer, model_validator

from cuepoint.contracts.assessment import QuestionType
from cuepoint.runtime.api_models import Money, Out, Percent, Score

from .domain.questions import Answer, QuestionContent
from .providers import ConnectionProblem

Status = Literal["DRAFT", "PENDING_REVIEW", "APPROVED", "REJECTED", "ARCHIVED"]
Difficulty = Literal["EASY", "MEDIUM", "HARD"]
Provider = Literal["OPENAI", "OFFLINE"]

# PostgreSQL hands timestamptz over in the session's time zone; the API always speaks UTC (``…Z``).
Timestamp = Annotated[datetime, AfterValidator(lambda value: value.astimezone(UTC))]
Share = Annotated[float, Field(ge=0, le=1, description="0–1: the share of the points lost per extra attempt."),
                  PlainSerializer(lambda value: round(float(value), 3), return_type=float, when_used="json")]


class _Closed(Out):
    """A shape a student receives: an unexpected field is a bug to refuse, not to pass on."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")


# --- questions as a student sees them: no answer key -----------------------------------------------


class Choice(_Closed):
    id: str
    text: str


class MultipleChoiceView(_Closed):
    type: Literal["MULTIPLE_CHOICE"]
    options: list[Choice]
    multiple_answers: bool = Field(description="Several options are right (answer with all of them; partial "
                                               "credit per option) rather than exactly one.")
    answers_expected: int = Field(description="How many options the key holds.")


class TrueFalseView(_Closed):
    type: Literal["TRUE_FALSE"]


class ShortAnswerView(_Closed):
    type: Literal["SHORT_ANSWER"]


class FillInTheBlankView(_Closed):
    type: Literal["FILL_IN_THE_BLANK"]
    template: str = Field(description="The text with each blank written `{{id}}`.")
    blank_ids: list[str]


class MatchingView(_Closed):
    type: Literal["MATCHING"]
    left: list[Choice]
    right: list[Choice] = Field(description="Shuffled (the same order on every device for one student).")


class OrderingView(_Closed):
    type: Literal["ORDERING"]
    items: list[Choice] = Field(description="Shuffled, never in the correct order.")


StudentContent = Annotated[MultipleChoiceView | TrueFalseView | ShortAnswerView | FillInTheBlankView | MatchingView
                           | OrderingView, Field(discriminator="type")]


# --- answer keys, shown once settled: the shape follows the question's type --------------------------


class MultipleChoiceKey(_Closed):
    option_ids: list[str]


class TrueFalseKey(_Closed):
    value: bool


class ShortAnswerKey(_Closed):
    accepted_answers: list[str]


class FillInTheBlankKey(_Closed):
    blanks: dict[str, list[str]] = Field(description="Per blank id, its accepted answers.")


class MatchingKey(_Closed):
    matches: dict[str, str] = Field(description="Per left id, its right id.")


class OrderingKey(_Closed):
    order: list[str]


AnswerKey = Annotated[MultipleChoiceKey | TrueFalseKey | ShortAnswerKey | FillInTheBlankKey | MatchingKey
                      | OrderingKey, Field(description="The correct answer in the shape of the question's type "
                                                       "(each shape has its own field name).")]


class _RevealedWhenSettled(_Closed):
    """``explanation`` and ``correct_answer`` are left out of the body until ``settled``."""

    settled: bool = Field(description="No more attempts are useful: an answer was right, or none are left.")
    explanation: str | None = Field(default=None, description="Only once settled.")
    correct_answer: AnswerKey | None = Field(default=None, description="Only once settled.")

    @model_validator(mode="after")
    def _nothing_revealed_early(self) -> _RevealedWhenSettled:
        if not self.settled and (self.explanation is not None or self.correct_answer is not None):
            raise ValueError("an unsettled question's explanation or answer key would reach the student")
        return self

    # No return annotation: with one, Pydantic would describe the body as that (a bare object).
    @model_serializer(mode="wrap")
    def _absent_until_settled(self, handler: Any):  # noqa: ANN202
        body = handler(self)
        if not self.settled:
            body.pop("explanation", None)
            body.pop("correct_answer", None)
        return body


class StudentQuestion(_RevealedWhenSettled):
    """An approved question as the calling student sees it, with their progress on it."""

    view: Literal["STUDENT"] = Field(description="Tells this view from a teacher's (`AUTHOR`).")
    id: uuid.UUID
    milestone_id: uuid.UUID | None
    type: QuestionType
    prompt: str
    points: Score
    difficulty: Difficulty
    content: StudentContent
    attempts_used: int
    attempts_left: int
    max_attempts: int
    retry_penalty: Share
    best_score: Score | None = Field(description="The best score so far; null before the first attempt.")


class MilestoneQuestions(Out):
    milestone_id: uuid.UUID
    title: str
    is_required: bool
    questions: list[StudentQuestion]


# --- questions as their authors see them ----------------------------------------------------------


class AiOrigin(Out):
    provider: str | None
    model: str | None
    prompt_version: str | None
    transcript_span: tuple[float | None, float | None] = Field(description="Seconds of the video the question "
                                                                           "was drafted from.")
    generation_job_id: uuid.UUID | None = Field(description="The job that drafted it (`GET /v1/generation-jobs/{id}`).")
    milestone_id: uuid.UUID | None = Field(default=None, description="The milestone it was drawn for (whose "
                                                                     "transcript span it comes from), even after "
                                                                     "a reviewer moved it.")


class AuthoredQuestion(Out):
    """A question with its answer key, for the lesson's author and admins."""

    view: Literal["AUTHOR"] = Field(description="Tells this view from a student's (`STUDENT`).")
    id: uuid.UUID
    lesson_id: uuid.UUID
    video_id: uuid.UUID | None
    milestone_id: uuid.UUID | None
    type: QuestionType
    prompt: str
    content: QuestionContent
    explanation: str
    points: Score
    difficulty: Difficulty
    status: Status
    source: Literal["AI", "MANUAL"]
    ai: AiOrigin | None = Field(description="Where an AI-drafted question came from; null if written by hand.")
    max_attempts: int | None = Field(description="Null: the milestone's, else the organisation's default.")
    retry_penalty: Share | None
    partial_credit: bool | None
    rejection_reason: str | None
    reviewed_by_id: uuid.UUID | None
    reviewed_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp


AnyQuestion = Annotated[AuthoredQuestion | StudentQuestion, Field(discriminator="view")]


class Skipped(Out):
    id: uuid.UUID
    reason: str = Field(description="Why it was not approved, in words.")
    status: Status | None = Field(default=None, description="Its status, when the caller may see it (`REJECTED`: "
                                                            "bulk approval never undoes a rejection).")


class BulkApproval(Out):
    approved: list[uuid.UUID] = Field(description="Approved now, in the order asked.")
    skipped: list[Skipped] = Field(description="Left as they were, each with its reason.")


class MilestonePolicy(Out):
    milestone_id: uuid.UUID
    max_attempts: int | None
    retry_penalty: Share | None
    partial_credit: bool | None


# --- attempts and grades --------------------------------------------------------------------------


class AttemptResult(_RevealedWhenSettled):
    """One graded attempt, as its student submitted it."""

    attempt_id: uuid.UUID
    question_id: uuid.UUID
    type: QuestionType
    attempt_number: int
    attempts_left: int
    max_attempts: int
    retry_penalty: Share
    score: Score = Field(description="Points earned, after the retry penalty.")
    max_score: Score
    is_correct: bool
    replayed: bool = Field(description="This Idempotency-Key was answered before: the same attempt, not a new one.")
    answered_at: Timestamp


class Override(_Closed):
    """A teacher's judgement of a typed answer, replacing the automatic grading's score."""

    graded_score: Score = Field(description="What the automatic grading gave.")
    reason: str = Field(description="The teacher's reason.")
    overridden_at: Timestamp


class ScoreOverride(Out):
    """An attempt's score after its teacher overrode it; the grades are updated with it."""

    attempt_id: uuid.UUID
    question_id: uuid.UUID
    student_id: uuid.UUID
    lesson_id: uuid.UUID
    type: Literal["SHORT_ANSWER", "FILL_IN_THE_BLANK"]
    attempt_number: int
    score: Score = Field(description="The score now: the teacher's.")
    previous_score: Score = Field(description="The score before this override.")
    graded_score: Score = Field(description="What the automatic grading gave.")
    max_score: Score
    best_score: Score = Field(description="The student's best score at the question now (what grades count).")
    is_correct: bool = Field(description="Whether the answer matched the key: an override does not change it.")
    reason: str
    overridden_by_id: uuid.UUID
    overridden_at: Timestamp


class Problem(Out):
    """An RFC 9457 problem (`application/problem+json`); some carry extra members, e.g. `max_score`."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None


class QuestionAttempts(_RevealedWhenSettled):
    """A student's attempts at one question: the latest answer and where they stand."""

    question_id: uuid.UUID
    student_id: uuid.UUID
    lesson_id: uuid.UUID
    video_id: uuid.UUID | None
    milestone_id: uuid.UUID | None
    type: QuestionType
    attempt_id: uuid.UUID = Field(description="The latest attempt.")
    attempt_number: int
    answer: Answer = Field(description="The latest answer given.")
    score: Score = Field(description="The latest attempt's score.")
    best_score: Score = Field(description="The best of the attempts' scores (what grades count).")
    max_score: Score
    is_correct: bool = Field(description="The latest answer was right.")
    attempts_used: int
    attempts_left: int
    max_attempts: int
    retry_penalty: Share
    answered_at: Timestamp = Field(description="When the latest answer was given.")
    score_overridden: bool = Field(default=False, description="A teacher overrode the score of one of these "
                                                              "attempts (so `best_score` may be theirs).")
    override: Override | None = Field(default=None, description="The teacher's override of the latest attempt's "
                                                                "score (`score` is then theirs); null if none.")


class Grade(Out):
    student_id: uuid.UUID
    scope: Literal["MILESTONE", "VIDEO", "LESSON"]
    scope_id: uuid.UUID
    lesson_id: uuid.UUID
    score: Score
    max_score: Score
    percent: Percent
    passed: bool
    questions_answered: int
    questions_total: int
    updated_at: Timestamp


# --- AI -------------------------------------------------------------------------------------------


class Configuration(Out):
    """An AI provider configuration; its API key is never returned."""

    id: uuid.UUID
    name: str
    provider: Provider
    model: str
    base_url: str | None
    temperature: Score
    max_tokens: int
    prompt_template: str
    input_price_per_1k: Money
    output_price_per_1k: Money
    has_api_key: bool
    is_active: bool
    created_at: Timestamp
    updated_at: Timestamp


class ConnectionTest(Out):
    """The outcome of one small request to a configuration's provider. A failed test is still a 200:
    ``ok`` is false and ``problem`` classifies what went wrong, ``detail`` says it in words (never the key)."""

    configuration_id: uuid.UUID
    provider: Provider
    model: str
    ok: bool
    latency_ms: int | None = Field(description="From sending the request to the whole answer; null when nothing "
                                               "was sent (no API key).")
    problem: ConnectionProblem | None = Field(description="Null when ok.")
    detail: str | None = Field(description="What went wrong, in words; null when ok.")
    tokens_used: int = Field(ge=0, description="Tokens the provider reported for the test (a handful).")
    usage_logged: bool = Field(description="Whether the test was recorded in ai_usage_logs: only when the "
                                           "provider billed tokens for it.")


class GenerationJob(Out):
    id: uuid.UUID
    lesson_id: uuid.UUID
    video_id: uuid.UUID | None
    milestone_ids: list[uuid.UUID]
    count_per_milestone: int
    types: list[QuestionType]
    provider: Provider
    model: str
    configuration_id: uuid.UUID | None
    trigger: Literal["TEACHER", "AUTOMATIC"]
    status: Literal["QUEUED", "RUNNING", "SUCCEEDED", "FAILED"]
    error: str | None = Field(description="In words: why a FAILED job failed; on a QUEUED or RUNNING job, why its "
                                          "last run failed before it is tried again. Null otherwise.")
    question_count: int
    runs: int
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None


class ProviderQueue(Out):
    provider: Provider
    waiting: int = Field(description="Jobs due or waiting for a retry, not running.")
    running: int = Field(description="Jobs a runner holds (its lease is current).")


class QueueLimits(Out):
    per_tenant: int = Field(description="Jobs of one organisation that run at once.")
    per_provider: int = Field(description="Jobs of one provider that run at once (all organisations).")
    in_all: int = Field(description="Jobs that run at once, in all.")
    lease_seconds: float = Field(description="A runner renews its lease every third of this; a job whose runner "
                                             "died is taken over this long after its last renewal.")


class GenerationQueue(Out):
    """This organisation's generation jobs that have not finished."""

    waiting: int = Field(description="Jobs waiting to run (queued, or waiting for a retry).")
    running: int = Field(description="Jobs running now.")
    oldest_waiting_job_id: uuid.UUID | None = Field(description="The job that has waited longest, if any.")
    oldest_waiting_since: Timestamp | None = Field(description="When that job was requested.")
    oldest_waiting_seconds: float | None = Field(description="How long ago that was, in seconds.")
    by_provider: list[ProviderQueue]
    limits: QueueLimits


class Budget(Out):
    budget_usd: Money
    spent_usd: Money
    remaining_usd: Money


class Usage(Out):
    """What generation checks before asking a provider. Month by month, by request type, is analytics'
    report (GET /v1/dashboards/ai-usage), projected from assessment.ai_usage.recorded.v1."""

    this_month: Budget
