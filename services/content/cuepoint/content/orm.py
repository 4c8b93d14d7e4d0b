"""The content schema as SQLAlchemy tables (the DDL itself is in migrations/)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Float, Integer, MetaData, Table, Text, Uuid
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata = MetaData(schema="content")


def _at(name: str) -> Column:
    return Column(name, DateTime(timezone=True))


lessons = Table(
    "lessons", metadata,
    Column("id", Uuid, primary_key=True), Column("tenant_id", Uuid), Column("title", Text), Column("description", Text),
    Column("thumbnail", Text), Column("status", Text), Column("created_by_id", Uuid), Column("version", Integer),
    Column("has_unpublished_changes", Boolean), Column("tags", ARRAY(Text)), Column("metadata", JSONB),
    Column("seek_policy", Text), Column("auto_generate_questions", Boolean), _at("published_at"), _at("archived_at"),
    _at("created_at"), _at("updated_at"),
)
lesson_versions = Table(
    "lesson_versions", metadata,
    Column("lesson_id", Uuid, primary_key=True), Column("version", Integer, primary_key=True),
    Column("tenant_id", Uuid), Column("snapshot", JSONB), Column("published_by_id", Uuid), _at("published_at"),
)
video_groups = Table(
    "video_groups", metadata,
    Column("id", Uuid, primary_key=True), Column("tenant_id", Uuid), Column("lesson_id", Uuid), Column("title", Text),
    Column("position", Integer), _at("created_at"), _at("updated_at"),
)
videos = Table(
    "videos", metadata,
    Column("id", Uuid, primary_key=True), Column("tenant_id", Uuid), Column("lesson_id", Uuid),
    Column("video_group_id", Uuid), Column("title", Text), Column("position", Integer), Column("duration", Float),
    Column("storage_path", Text), Column("status", Text), Column("content_type", Text),
    Column("expected_size", BigInteger), _at("upload_expires_at"), Column("metadata", JSONB), _at("created_at"),
    _at("updated_at"), _at("deleted_at"), Column("replacement", JSONB),
)
milestones = Table(
    "milestones", metadata,
    Column("id", Uuid, primary_key=True), Column("tenant_id", Uuid), Column("video_id", Uuid), Column("lesson_id", Uuid),
    Column("timestamp", Float), Column("title", Text), Column("is_required", Boolean), _at("created_at"),
    _at("updated_at"),
)
transcripts = Table(
    "transcripts", metadata,
    Column("id", Uuid, primary_key=True), Column("tenant_id", Uuid), Column("video_id", Uuid), Column("language", Text),
    Column("format", Text), Column("segments", JSONB), Column("segment_count", Integer), _at("created_at"),
)
questions = Table(
    "questions", metadata,
    Column("id", Uuid, primary_key=True), Column("tenant_id", Uuid), Column("milestone_id", Uuid),
    Column("status", Text), _at("updated_at"),
)
