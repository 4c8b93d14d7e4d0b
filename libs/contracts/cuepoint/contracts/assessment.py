"""Events of the assessment service (topic ``assessment.events``).

Attempt events are keyed by the student, so one student's history stays in order on
one partition. Question events carry the milestone, so content's ``questions``
projection can be upserted in any order.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from .envelope import Event
from .privacy import ExportPart
from .topics import EXPORT_PARTS

QuestionType = Literal["MULTIPLE_CHOICE", "TRUE_FALSE", "SHORT_ANSWER", "FILL_IN_THE_BLANK", "MATCHING", "ORDERING"]
QuestionStatus = Literal["DRAFT", "PENDING_REVIEW", "APPROVED", "REJECTED", "ARCHIVED"]


class GeneratedQuestion(BaseModel):
    """One question of a generation run."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    question_id: UUID = Field(description="The generated question.")
    milestone_id: UUID | None = Field(description="The milestone it is attached to.")
    type: QuestionType = Field(description="The question type.")
    status: QuestionStatus = Field(description="Its status after generation (normally PENDING_REVIEW).")


class QuestionsGenerated(Event):
    """An AI generation job finished and its questions await review. Key: job_id."""

    event_type = "assessment.questions.generated.v1"
    key_field = "job_id"
    job_id: UUID = Field(description="The generation job.")
    lesson_id: UUID = Field(description="The lesson the questions are for.")
    video_id: UUID | None = Field(default=None, description="The video, when the job covered one video.")
    provider: str = Field(description="The AI provider that drafted them, e.g. `OPENAI` or `OFFLINE`.")
    model: str = Field(description="The provider's model name.")
    questions: list[GeneratedQuestion] = Field(description="The questions created, in milestone order.")


class GenerationFailed(Event):
    """An AI generation job gave up; no questions were created. Key: job_id."""

    event_type = "assessment.generation.failed.v1"
    key_field = "job_id"
    job_id: UUID = Field(description="The generation job.")
    lesson_id: UUID = Field(description="The lesson the questions were for.")
    video_id: UUID | None = Field(default=None, description="The video, when the job covered one video.")
    provider: str = Field(description="The AI provider that was asked.")
    model: str = Field(description="The provider's model name.")
    reason: str = Field(description="Why it failed, for the teacher and the data team.")


class QuestionApproved(Event):
    """A teacher approved a question: it now reaches students. Key: question_id."""

    event_type = "assessment.question.approved.v1"
    key_field = "question_id"
    question_id: UUID = Field(description="The approved question.")
    milestone_id: UUID | None = Field(description="The milestone it is attached to.")
    lesson_id: UUID = Field(description="The lesson of the milestone.")
    type: QuestionType = Field(description="The question type.")
    points: Decimal = Field(ge=0, description="Points for a fully correct answer.")


class QuestionRejected(Event):
    """A teacher rejected a question. Key: question_id."""

    event_type = "assessment.question.rejected.v1"
    key_field = "question_id"
    question_id: UUID = Field(description="The rejected question.")
    milestone_id: UUID | None = Field(description="The milestone it was attached to.")
    lesson_id: UUID = Field(description="The lesson of the milestone.")
    reason: str | None = Field(default=None, description="The reviewer's reason, if given.")


class AttemptGraded(Event):
    """A student's answer was graded. Key: student_id (one student's attempts stay in order)."""

    event_type = "assessment.attempt.graded.v1"
    key_field = "student_id"
    attempt_id: UUID = Field(description="The attempt.")
    student_id: UUID = Field(description="The student who answered.")
    question_id: UUID = Field(description="The question answered.")
    milestone_id: UUID | None = Field(description="The milestone of the question.")
    video_id: UUID | None = Field(default=None, description="The video of the milestone.")
    lesson_id: UUID = Field(description="The lesson of the question.")
    attempt_number: int = Field(ge=1, description="1 for the first attempt.")
    max_attempts: int = Field(ge=1, description="How many attempts the question allows.")
    is_correct: bool = Field(description="Whether the answer earned full credit.")
    score: Decimal = Field(ge=0, description="Points earned, after partial credit and retry penalty.")
    max_score: Decimal = Field(ge=0, description="Points of a fully correct first attempt.")
    milestone_answered: bool = Field(
        description="True when this attempt settles the question (correct, or no attempts left)."
    )
    attempts_left: int | None = Field(default=None, ge=0, description="Attempts still allowed after this one.")
    time_taken_ms: int | None = Field(default=None, ge=0, description="How long the student took, as the client measured it.")
    selected_options: list[str] = Field(default_factory=list, description="Option ids chosen, for item analysis.")
    answered_at: datetime = Field(description="When the student submitted the answer.")


class AIUsageRecorded(Event):
    """One request to an AI provider finished (successfully or not). Key: usage_log_id."""

    event_type = "assessment.ai_usage.recorded.v1"
    key_field = "usage_log_id"
    usage_log_id: UUID = Field(description="The ai_usage_logs row.")
    request_type: str = Field(description="What the request was for, e.g. `QUESTION_GENERATION`.")
    provider: str = Field(description="The provider, e.g. `OPENAI`.")
    model: str = Field(description="The model name.")
    tokens_in: int = Field(ge=0, description="Prompt tokens.")
    tokens_out: int = Field(ge=0, description="Completion tokens.")
    tokens_used: int = Field(ge=0, description="tokens_in + tokens_out.")
    cost: Decimal = Field(ge=0, description="Cost in USD from the configuration's prices.")
    response_time: int = Field(ge=0, description="Milliseconds from request to response.")
    success: bool = Field(description="Whether a valid response came back.")
    error: str | None = Field(default=None, description="The error, when not successful.")


class QuestionEdited(Event):
    """A teacher changed a question (its text, answer key, points, milestone or grading policy). Emitted once
    per edit that changed something, before any QuestionApproved of the same request. Key: question_id.

    ``before`` and ``after`` hold only the changed fields, as JSON: numbers such as ``points`` and
    ``retry_penalty`` as decimal strings, ids as strings, ``content`` as the question type's content with its
    answer key (domain topics are internal; no personal data is in a question)."""

    event_type = "assessment.question.edited.v1"
    key_field = "question_id"
    question_id: UUID = Field(description="The edited question.")
    lesson_id: UUID = Field(description="The lesson of the question.")
    milestone_id: UUID | None = Field(description="The milestone it is attached to after the edit.")
    status: QuestionStatus = Field(description="Its status after the edit (an approved question stays approved).")
    changed_fields: list[str] = Field(
        description="The fields that changed, sorted: any of `prompt`, `explanation`, `points`, `difficulty`, "
                    "`type`, `content`, `milestone_id`, `video_id`, `max_attempts`, `retry_penalty`, "
                    "`partial_credit`.")
    before: dict[str, Any] = Field(description="The changed fields' values before the edit.")
    after: dict[str, Any] = Field(description="The changed fields' values after the edit.")


class MilestonePolicyChanged(Event):
    """A teacher changed a milestone's grading policy (for all its questions that do not set their own).
    Emitted only when a value changed. Key: milestone_id.

    Each value is the full state after the change; null means "the organisation's default"."""

    event_type = "assessment.milestone_policy.changed.v1"
    key_field = "milestone_id"
    milestone_id: UUID = Field(description="The milestone.")
    lesson_id: UUID = Field(description="The lesson of the milestone.")
    max_attempts: int | None = Field(description="Attempts allowed per question; null: the organisation's default.")
    retry_penalty: Decimal | None = Field(description="Share of the points lost per extra attempt (0–1); null: none.")
    partial_credit: bool | None = Field(description="Whether partly right answers earn part of the points; null: on.")
    changed_fields: list[str] = Field(description="Which of the three changed, sorted.")
    before: dict[str, Any] = Field(description="The changed fields' previous values (decimals as strings).")


class AIConfigurationChanged(Event):
    """An admin created or changed an AI provider configuration, or activating another one deactivated it
    (one active per provider). Key: configuration_id.

    The API key never appears: ``api_key_changed`` says it was set, replaced or removed, and
    ``has_api_key`` whether one is stored now. ``before`` and ``after`` hold the changed fields (on
    creation ``before`` is empty and ``after`` holds every field); decimals as strings."""

    event_type = "assessment.ai_configuration.changed.v1"
    key_field = "configuration_id"
    configuration_id: UUID = Field(description="The AI configuration.")
    change: Literal["CREATED", "UPDATED", "DEACTIVATED"] = Field(
        description="`DEACTIVATED`: another configuration of its provider was activated.")
    name: str = Field(description="The configuration's name.")
    provider: str = Field(description="The provider, e.g. `OPENAI` or `OFFLINE`.")
    model: str = Field(description="The model name after the change.")
    is_active: bool = Field(description="Whether it is active after the change.")
    has_api_key: bool = Field(description="Whether an API key is stored after the change.")
    api_key_changed: bool = Field(description="The API key was set, replaced or removed (never the key itself).")
    changed_fields: list[str] = Field(description="The fields that changed, sorted (`api_key` never among them).")
    before: dict[str, Any] = Field(description="The changed fields' values before.")
    after: dict[str, Any] = Field(description="The changed fields' values after.")


class AttemptScoreOverridden(Event):
    """The lesson's author (or an admin) replaced the graded score of a student's typed answer (short answer or
    fill in the blank), with a reason. The attempt's ``score`` is now this one wherever it counts (best score,
    grades); whether the answer matched the key (``is_correct``) and the attempts left do not change.
    Key: student_id (in order with the student's AttemptGraded)."""

    event_type = "assessment.attempt.score_overridden.v1"
    key_field = "student_id"
    attempt_id: UUID = Field(description="The attempt whose score changed.")
    student_id: UUID = Field(description="The student who answered.")
    question_id: UUID = Field(description="The question answered.")
    milestone_id: UUID | None = Field(description="The milestone of the question.")
    video_id: UUID | None = Field(default=None, description="The video of the milestone.")
    lesson_id: UUID = Field(description="The lesson of the question.")
    attempt_number: int = Field(ge=1, description="Which attempt of the student's at the question.")
    score: Decimal = Field(ge=0, description="The score now: the teacher's.")
    previous_score: Decimal = Field(ge=0, description="The score before this override.")
    graded_score: Decimal = Field(ge=0, description="The score the automatic grading gave.")
    max_score: Decimal = Field(ge=0, description="Points of a fully correct first attempt (the highest allowed).")
    best_score: Decimal = Field(ge=0, description="The student's best score at the question after the override.")
    reason: str = Field(description="The teacher's reason, for the student and the record.")
    overridden_at: datetime = Field(description="When the teacher overrode it.")


class LessonGraded(Event):
    """A student's lesson grade changed: an answer was graded or overridden, or the passing threshold changed
    (``passed`` re-evaluated). The lesson score's one definition (assessment's ``domain/grading.py`` and the
    README): approved questions of required milestones always count, those of optional milestones once
    answered; weighted by points; each question earns the best attempt after retry penalties (or a teacher's
    override). progress takes ``percent`` as ``student_progress.average_score``. Key: student_id (in order
    with the student's AttemptGraded)."""

    event_type = "assessment.lesson.graded.v1"
    key_field = "student_id"
    student_id: UUID = Field(description="The student.")
    lesson_id: UUID = Field(description="The lesson.")
    score: Decimal = Field(ge=0, description="Points earned over the questions that count.")
    max_score: Decimal = Field(ge=0, description="Points of the questions that count.")
    percent: Decimal = Field(ge=0, le=100, description="score / max_score, 0–100 (0 while nothing counts).")
    passed: bool = Field(description="percent at or above the organisation's grading.passingThreshold.")
    passing_threshold: Decimal = Field(ge=0, le=100, description="The threshold `passed` was judged against.")
    questions_answered: int = Field(ge=0, description="Questions that count and were answered.")
    questions_counted: int = Field(ge=0, description="Questions that count.")
    reason: Literal["ANSWERED", "OVERRIDDEN", "THRESHOLD_CHANGED"] = Field(description="What changed the grade.")
    graded_at: datetime = Field(description="When it changed.")


class AssessmentExportPart(ExportPart):
    """assessment's part of a person's data export, answering identity.user.export_requested.v1: one chunk of it.
    Topic: privacy.export-parts. Key: export_id."""

    event_type = "assessment.user.export_part.v1"
    topic = EXPORT_PARTS.name
