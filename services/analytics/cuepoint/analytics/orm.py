"""The analytics schema as SQLAlchemy tables (the DDL itself, with its keys, indexes, row-level
security and functions, is in migrations/: 0002, 0003, 0005, 0007)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Float, Integer, MetaData, Numeric, Table, Text, Uuid
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata = MetaData(schema="analytics")


def _at(name: str) -> Column:
    return Column(name, DateTime(timezone=True), nullable=False)


def _id(name: str, primary_key: bool = False, nullable: bool = False) -> Column:
    return Column(name, Uuid, primary_key=primary_key, nullable=nullable)


def _tenant() -> Column:
    # Every read model's key leads with the tenant (migration 0007).
    return _id("tenant_id", primary_key=True)


def _count(name: str) -> Column:
    return Column(name, Integer, nullable=False)


# The event store: client and domain events, partitioned by month (occurred_at).
analytics_events = Table(
    "analytics_events", metadata,
    _id("id", primary_key=True), _id("tenant_id"), _id("user_id", nullable=True), Column("event_type", Text, nullable=False),
    Column("category", Text, nullable=False), _id("lesson_id", nullable=True), _id("video_id", nullable=True),
    _id("question_id", nullable=True), Column("device_id", Text), Column("data", JSONB, nullable=False),
    Column("occurred_at", DateTime(timezone=True), primary_key=True),
)

# The hash-chained audit log (append-only: a trigger refuses UPDATE and DELETE) and each chain's head.
audit_logs = Table(
    "audit_logs", metadata,
    Column("id", BigInteger, primary_key=True), _id("tenant_id"), Column("seq", BigInteger, nullable=False),
    _id("event_id"), _id("actor_id", nullable=True), Column("action", Text, nullable=False),
    Column("target_type", Text, nullable=False), Column("target_id", Text, nullable=False),
    Column("correlation_id", Text), _at("occurred_at"), Column("prev_hash", Text, nullable=False),
    Column("hash", Text, nullable=False),
)
audit_heads = Table(
    "audit_heads", metadata,
    _id("tenant_id", primary_key=True), Column("seq", BigInteger, nullable=False), Column("hash", Text, nullable=False),
)

# Read models of the dashboards.
lessons = Table(
    "lessons", metadata,
    _tenant(), _id("id", primary_key=True), Column("title", Text, nullable=False), _id("created_by_id"),
    _at("updated_at"),
)
milestones = Table(
    "milestones", metadata,
    _tenant(), _id("id", primary_key=True), _id("video_id"), Column("timestamp", Float, nullable=False),
    Column("title", Text, nullable=False), Column("deleted", Boolean, nullable=False), _at("updated_at"),
)
videos = Table(
    "videos", metadata,
    _tenant(), _id("id", primary_key=True), _id("lesson_id"), _at("updated_at"),
)
questions = Table(
    "questions", metadata,
    _tenant(), _id("id", primary_key=True), _id("lesson_id"),
)
student_progress = Table(
    "student_progress", metadata,
    _tenant(), _id("student_id", primary_key=True), _id("lesson_id", primary_key=True),
    Column("completion_percent", Numeric(5, 2), nullable=False), Column("average_score", Numeric(5, 2)),
    _count("total_time_spent"), Column("status", Text, nullable=False), _at("updated_at"),
)
ai_usage_logs = Table(
    "ai_usage_logs", metadata,
    _tenant(), _id("id", primary_key=True), Column("request_type", Text, nullable=False),
    Column("provider", Text, nullable=False), Column("model", Text, nullable=False), _count("tokens_used"),
    Column("cost", Numeric(12, 6), nullable=False), _count("response_time"), Column("success", Boolean, nullable=False),
    _at("created_at"),
)
generation_outcomes = Table(
    "generation_outcomes", metadata,
    _tenant(), _id("job_id", primary_key=True), _id("lesson_id"), Column("provider", Text, nullable=False),
    Column("succeeded", Boolean, nullable=False), _count("question_count"), _at("occurred_at"),
)
question_results = Table(
    "question_results", metadata,
    _tenant(), _id("question_id", primary_key=True), _id("student_id", primary_key=True), _id("lesson_id"),
    Column("first_fraction", Numeric(6, 4), nullable=False), Column("first_correct", Boolean, nullable=False),
    _count("attempts"), Column("best_fraction", Numeric(6, 4), nullable=False),
)
option_picks = Table(
    "option_picks", metadata,
    _tenant(), _id("question_id", primary_key=True), Column("option_id", Text, primary_key=True), _count("picks"),
)
video_buckets = Table(
    "video_buckets", metadata,
    _tenant(), _id("video_id", primary_key=True), Column("bucket", Integer, primary_key=True), _count("views"),
    _count("rewatches"),
)
student_video_buckets = Table(
    "student_video_buckets", metadata,
    _tenant(), _id("video_id", primary_key=True), _id("student_id", primary_key=True),
    Column("buckets", ARRAY(Integer), nullable=False), _count("furthest"),
)
daily_counts = Table(
    "daily_counts", metadata,
    _tenant(), Column("day", Date, primary_key=True), Column("event_type", Text, primary_key=True), _count("events"),
)
daily_users = Table(
    "daily_users", metadata,
    _tenant(), Column("day", Date, primary_key=True), _id("user_id", primary_key=True),
)

# Roll-ups (migrations 0003, 0005).
daily_active = Table(
    "daily_active", metadata,
    _tenant(), Column("day", Date, primary_key=True), _count("users"),
)
lesson_stats = Table(
    "lesson_stats", metadata,
    _tenant(), _id("lesson_id", primary_key=True), _count("started"), _count("completed"),
)
lesson_days = Table(
    "lesson_days", metadata,
    _tenant(), _id("lesson_id", primary_key=True), Column("day", Date, primary_key=True), _count("started"),
    _count("completed"),
)
ai_usage_monthly = Table(
    "ai_usage_monthly", metadata,
    _tenant(), Column("month", DateTime(timezone=True), primary_key=True), Column("request_type", Text, primary_key=True),
    _count("requests"), Column("tokens", BigInteger, nullable=False), Column("cost", Numeric(14, 6), nullable=False),
    Column("response_time_total", BigInteger, nullable=False),
)
