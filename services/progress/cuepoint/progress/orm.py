"""The progress schema as SQLAlchemy tables (the DDL itself is in migrations/)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Float, Integer, MetaData, Numeric, Table, Text, Uuid
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata = MetaData(schema="progress")


def _at(name: str) -> Column:
    return Column(name, DateTime(timezone=True))


def _id(name: str = "id", primary_key: bool = False) -> Column:
    return Column(name, Uuid, primary_key=primary_key)


lessons = Table(
    "lessons", metadata,
    _id(primary_key=True), _id("tenant_id"), Column("title", Text), Column("thumbnail", Text), _id("created_by_id"),
    Column("seek_policy", Text), Column("status", Text), Column("video_ids", ARRAY(Uuid)), _at("updated_at"),
)
videos = Table(
    "videos", metadata,
    _id(primary_key=True), _id("tenant_id"), _id("lesson_id"), Column("duration", Float), _at("updated_at"),
    Column("deleted", Boolean),
)
milestones = Table(
    "milestones", metadata,
    _id(primary_key=True), _id("tenant_id"), _id("video_id"), _id("lesson_id"), Column("timestamp", Float),
    Column("is_required", Boolean), Column("deleted", Boolean), _at("updated_at"),
)
questions = Table(
    "questions", metadata,
    _id(primary_key=True), _id("tenant_id"), _id("milestone_id"), _id("lesson_id"), Column("approved", Boolean),
    _at("updated_at"),
)
question_results = Table(
    "question_results", metadata,
    _id("student_id", primary_key=True), _id("question_id", primary_key=True), _id("tenant_id"), _id("milestone_id"),
    _id("lesson_id"), Column("settled", Boolean), Column("best_score", Numeric), Column("max_score", Numeric),
    Column("time_spent_ms", BigInteger), _at("updated_at"),
)
lesson_scores = Table(
    "lesson_scores", metadata,
    _id("student_id", primary_key=True), _id("lesson_id", primary_key=True), _id("tenant_id"),
    Column("percent", Numeric), Column("passed", Boolean), _at("updated_at"),
)
student_sessions = Table(
    "student_sessions", metadata,
    _id(primary_key=True), _id("tenant_id"), _id("student_id"), Column("device_id", Text), Column("user_agent", Text),
    _at("started_at"), _at("last_seen_at"), _id("current_lesson_id"), _id("current_video_id"),
    Column("position", Float), _at("ended_at"),
)
video_progress = Table(
    "video_progress", metadata,
    _id("student_id", primary_key=True), _id("video_id", primary_key=True), _id("tenant_id"), _id("lesson_id"),
    Column("watched", JSONB), Column("watched_seconds", Float), Column("last_position", Float),
    Column("last_device_id", Text), _at("last_heartbeat_at"), Column("time_spent", Float), Column("flags", Integer),
    _at("completed_at"), _at("updated_at"),
)
student_progress = Table(
    "student_progress", metadata,
    _id(primary_key=True), _id("tenant_id"), _id("student_id"), _id("lesson_id"), Column("completion_percent", Numeric),
    Column("average_score", Numeric), Column("total_time_spent", Integer), Column("status", Text),
    _at("started_at"), _at("completed_at"), _at("updated_at"),
)
lesson_announcements = Table(
    "lesson_announcements", metadata,
    _id("student_id", primary_key=True), _id("lesson_id", primary_key=True), _id("tenant_id"),
    Column("completion_percent", Numeric), Column("status", Text), _at("announced_at"),
)
display_names = Table(
    "display_names", metadata,
    _id("tenant_id", primary_key=True), _id("user_id", primary_key=True), Column("display_name", Text),
    _at("updated_at"),
)

PROJECTIONS = (lessons, videos, milestones, questions, question_results, lesson_scores, student_sessions,
               video_progress, student_progress, display_names)
