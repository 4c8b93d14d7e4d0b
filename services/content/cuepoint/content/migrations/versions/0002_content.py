"""Lessons and their published versions, chapters, videos, milestones, transcripts, and
the questions projection (from assessment's events).

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from cuepoint.runtime.migrations import tenant_rls_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE lessons (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '',
    thumbnail text,
    status text NOT NULL DEFAULT 'DRAFT' CHECK (status IN ('DRAFT', 'PUBLISHED', 'ARCHIVED')),
    created_by_id uuid NOT NULL,
    version integer NOT NULL DEFAULT 0,
    has_unpublished_changes boolean NOT NULL DEFAULT true,
    tags text[] NOT NULL DEFAULT '{}',
    metadata jsonb NOT NULL DEFAULT '{}',
    seek_policy text NOT NULL DEFAULT 'FREE' CHECK (seek_policy IN ('FREE', 'NO_SKIP_AHEAD')),
    auto_generate_questions boolean NOT NULL DEFAULT false,
    published_at timestamptz,
    archived_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lessons_tenant_status ON lessons (tenant_id, status, updated_at DESC);
CREATE INDEX lessons_created_by ON lessons (created_by_id);
CREATE INDEX lessons_search ON lessons USING gin ((lower(title) || ' ' || lower(description)) gin_trgm_ops);
CREATE INDEX lessons_tags ON lessons USING gin (tags);

-- What students see: a frozen copy of the lesson, its chapters, videos and milestones.
CREATE TABLE lesson_versions (
    lesson_id uuid NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
    version integer NOT NULL,
    tenant_id uuid NOT NULL,
    snapshot jsonb NOT NULL,
    published_by_id uuid NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (lesson_id, version)
);

CREATE TABLE video_groups (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    lesson_id uuid NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
    title text NOT NULL,
    position integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX video_groups_lesson ON video_groups (lesson_id, position);

CREATE TABLE videos (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    lesson_id uuid NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
    video_group_id uuid REFERENCES video_groups (id) ON DELETE SET NULL,
    title text NOT NULL,
    position integer NOT NULL DEFAULT 0,
    duration double precision,
    storage_path text NOT NULL,
    status text NOT NULL DEFAULT 'UPLOADING' CHECK (status IN ('UPLOADING', 'UPLOADED', 'READY', 'FAILED')),
    content_type text NOT NULL,
    expected_size bigint NOT NULL,
    upload_expires_at timestamptz,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX videos_lesson ON videos (lesson_id, position);
CREATE INDEX videos_storage_path ON videos (storage_path);

CREATE TABLE milestones (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    video_id uuid NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    lesson_id uuid NOT NULL,
    timestamp double precision NOT NULL CHECK (timestamp >= 0),
    title text NOT NULL,
    is_required boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (video_id, timestamp)
);

CREATE TABLE transcripts (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    video_id uuid NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    language text NOT NULL,
    format text NOT NULL CHECK (format IN ('vtt', 'srt')),
    segments jsonb NOT NULL,
    segment_count integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (video_id, language)
);

-- Projection of assessment's questions: enough for the playback lookup.
CREATE TABLE questions (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    milestone_id uuid,
    status text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX questions_milestone ON questions (milestone_id, status);
"""

TENANT_SCOPED = ("lessons", "lesson_versions", "video_groups", "videos", "milestones", "transcripts", "questions")


def upgrade(schema: str) -> None:
    op.execute(TABLES)
    for table in TENANT_SCOPED:
        for statement in tenant_rls_sql(schema, table):
            op.execute(statement)
