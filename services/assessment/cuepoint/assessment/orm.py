"""The assessment schema as SQLAlchemy tables (the DDL itself is in migrations/)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Float, Integer, MetaData, Numeric, Table, Text, Uuid
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata = MetaData(schema="assessment")


def _at(name: str) -> Column:
    return Column(name, DateTime(timezone=True))


def _id(name: str = "id", primary_key: bool = False) -> Column:
    return Column(name, Uuid, primary_key=primary_key)


lessons = Table(
    "lessons", metadata,
    _id(primary_key=True), _id("tenant_id"), Column("title", Text), _id("created_by_id"), Column("status", Text),
    Column("auto_generate_questions", Boolean), _at("updated_at"),
)
milestones = Table(
    "milestones", metadata,
    _id(primary_key=True), _id("tenant_id"), _id("video_id"), _id("lesson_id"), Column("timestamp", Float),
    Column("title", Text), Column("is_required", Boolean), Column("deleted", Boolean), _at("updated_at"),
)
transcripts = Table(
    "transcripts", metadata,
    _id("video_id", primary_key=True), Column("language", Text, primary_key=True), _id("tenant_id"),
    _id("lesson_id"), Column("segments", JSONB), _at("updated_at"),
)
milestone_policies = Table(
    "milestone_policies", metadata,
    _id("milestone_id", primary_key=True), _id("tenant_id"), Column("max_attempts", Integer),
    Column("retry_penalty", Numeric), Column("partial_credit", Boolean), _at("updated_at"),
)
ai_configurations = Table(
    "ai_configurations", metadata,
    _id(primary_key=True), _id("tenant_id"), Column("name", Text), Column("provider", Text), Column("model", Text),
    Column("base_url", Text), Column("temperature", Numeric), Column("max_tokens", Integer),
    Column("prompt_template", Text), Column("input_price_per_1k", Numeric), Column("output_price_per_1k", Numeric),
    Column("api_key_encrypted", Text), Column("is_active", Boolean), _at("created_at"), _at("updated_at"),
)
generation_jobs = Table(
    "generation_jobs", metadata,
    _id(primary_key=True), _id("tenant_id"), _id("lesson_id"), _id("video_id"), Column("milestone_ids", ARRAY(Uuid)),
    Column("count_per_milestone", Integer), Column("types", ARRAY(Text)), _id("configuration_id"),
    Column("provider", Text), Column("model", Text), Column("trigger", Text), _id("requested_by_id"),
    Column("status", Text), Column("runs", Integer), Column("error", Text), Column("question_count", Integer),
    _at("created_at"), _at("started_at"), _at("finished_at"),
)
generation_queue = Table(
    "generation_queue", metadata,
    _id("job_id", primary_key=True), _id("tenant_id"), _at("available_at"), Column("runs", Integer),
    Column("provider", Text), _at("leased_at"),
)
questions = Table(
    "questions", metadata,
    _id(primary_key=True), _id("tenant_id"), _id("lesson_id"), _id("video_id"), _id("milestone_id"),
    Column("type", Text), Column("prompt", Text), Column("content", JSONB), Column("explanation", Text),
    Column("points", Numeric), Column("difficulty", Text), Column("status", Text), Column("source", Text),
    Column("ai_provider", Text), Column("ai_model", Text), Column("prompt_version", Text),
    Column("transcript_start", Float), Column("transcript_end", Float), _id("generation_job_id"),
    _id("drawn_for_milestone_id"),
    Column("max_attempts", Integer), Column("retry_penalty", Numeric), Column("partial_credit", Boolean),
    Column("rejection_reason", Text), _id("created_by_id"), _id("reviewed_by_id"), _at("reviewed_at"),
    _at("created_at"), _at("updated_at"),
)
ai_usage_logs = Table(
    "ai_usage_logs", metadata,
    _id(primary_key=True), _id("tenant_id"), _id("configuration_id"), _id("job_id"), Column("request_type", Text),
    Column("provider", Text), Column("model", Text), Column("tokens_in", Integer), Column("tokens_out", Integer),
    Column("tokens_used", Integer), Column("cost", Numeric), Column("response_time", Integer),
    Column("success", Boolean), Column("error", Text), _at("created_at"),
)
question_attempts = Table(
    "question_attempts", metadata,
    _id(primary_key=True), _id("tenant_id"), _id("question_id"), _id("student_id"), _id("milestone_id"),
    _id("video_id"), _id("lesson_id"), Column("attempt_number", Integer), Column("answer", JSONB),
    Column("score", Numeric), Column("max_score", Numeric), Column("is_correct", Boolean),
    Column("attempts_left", Integer), Column("time_taken_ms", Integer), Column("idempotency_key", Text),
    Column("request_hash", Text), _at("created_at"), Column("graded_score", Numeric), Column("override_reason", Text),
    _id("overridden_by_id"), _at("overridden_at"),
)
grades = Table(
    "grades", metadata,
    _id(primary_key=True), _id("tenant_id"), _id("student_id"), Column("scope", Text), _id("scope_id"),
    _id("lesson_id"), Column("score", Numeric), Column("max_score", Numeric), Column("percent", Numeric),
    Column("passed", Boolean), Column("questions_answered", Integer), Column("questions_total", Integer),
    _at("updated_at"),
)
