"""Sessions, per-video and per-lesson progress, and the projections they are computed from.

Every table here is a projection of events (content, assessment, client telemetry, and
progress's own session events): `rebuild` empties them and replays. Times come from the
events, never from the clock, so a replay gives the same rows.

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
    title text NOT NULL,
    thumbnail text,
    created_by_id uuid NOT NULL,
    seek_policy text NOT NULL DEFAULT 'FREE',
    status text NOT NULL DEFAULT 'DRAFT',
    video_ids uuid[] NOT NULL DEFAULT '{}',  -- the published version's videos, in order
    updated_at timestamptz NOT NULL
);

CREATE TABLE videos (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    lesson_id uuid NOT NULL,
    duration double precision,
    updated_at timestamptz NOT NULL
);
CREATE INDEX videos_lesson ON videos (lesson_id);

CREATE TABLE milestones (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    video_id uuid NOT NULL,
    lesson_id uuid NOT NULL,
    timestamp double precision NOT NULL,
    is_required boolean NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL
);
CREATE INDEX milestones_video ON milestones (video_id);

-- Approved questions per milestone (a required milestone is answered when all are settled).
CREATE TABLE questions (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    milestone_id uuid,
    lesson_id uuid NOT NULL,
    approved boolean NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX questions_milestone ON questions (milestone_id) WHERE approved;

-- Each student's standing on each question, from AttemptGraded.
CREATE TABLE question_results (
    student_id uuid NOT NULL,
    question_id uuid NOT NULL,
    tenant_id uuid NOT NULL,
    milestone_id uuid,
    lesson_id uuid NOT NULL,
    settled boolean NOT NULL,
    best_score numeric(10, 2) NOT NULL,
    max_score numeric(10, 2) NOT NULL,
    time_spent_ms bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (student_id, question_id)
);
CREATE INDEX question_results_lesson ON question_results (student_id, lesson_id);

CREATE TABLE student_sessions (
    id uuid PRIMARY KEY,  -- uuid5(student, device): the same on every replay
    tenant_id uuid NOT NULL,
    student_id uuid NOT NULL,
    device_id text NOT NULL,
    user_agent text,
    started_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    current_lesson_id uuid,
    current_video_id uuid,
    position double precision,
    ended_at timestamptz,
    UNIQUE (student_id, device_id)
);
CREATE INDEX student_sessions_recent ON student_sessions (student_id, last_seen_at DESC);

CREATE TABLE video_progress (
    student_id uuid NOT NULL,
    video_id uuid NOT NULL,
    tenant_id uuid NOT NULL,
    lesson_id uuid NOT NULL,
    watched jsonb NOT NULL DEFAULT '[]',  -- [[start, end], …] disjoint, sorted
    watched_seconds double precision NOT NULL DEFAULT 0,
    last_position double precision NOT NULL DEFAULT 0,
    last_device_id text,
    last_heartbeat_at timestamptz,
    time_spent double precision NOT NULL DEFAULT 0,
    flags integer NOT NULL DEFAULT 0,
    completed_at timestamptz,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (student_id, video_id)
);
CREATE INDEX video_progress_lesson ON video_progress (student_id, lesson_id);

CREATE TABLE student_progress (
    id uuid PRIMARY KEY,  -- uuid5(student, lesson)
    tenant_id uuid NOT NULL,
    student_id uuid NOT NULL,
    lesson_id uuid NOT NULL,
    completion_percent numeric(5, 2) NOT NULL DEFAULT 0,
    average_score numeric(5, 2),
    total_time_spent integer NOT NULL DEFAULT 0,  -- seconds
    status text NOT NULL DEFAULT 'NOT_STARTED' CHECK (status IN ('NOT_STARTED', 'IN_PROGRESS', 'COMPLETED')),
    started_at timestamptz,
    completed_at timestamptz,
    updated_at timestamptz NOT NULL,
    UNIQUE (student_id, lesson_id)
);
CREATE INDEX student_progress_dashboard ON student_progress (student_id, updated_at DESC);
CREATE INDEX student_progress_lesson ON student_progress (lesson_id);

-- What the last LessonProgressed said, to throttle the next. Not a projection: it belongs
-- with the outbox (what was announced), and a rebuild, which announces nothing, keeps it.
CREATE TABLE lesson_announcements (
    student_id uuid NOT NULL,
    lesson_id uuid NOT NULL,
    tenant_id uuid NOT NULL,
    completion_percent numeric(5, 2) NOT NULL,
    status text NOT NULL,
    announced_at timestamptz NOT NULL,
    PRIMARY KEY (student_id, lesson_id)
);
"""

TENANT_SCOPED = ("lessons", "videos", "milestones", "questions", "question_results", "student_sessions",
                 "video_progress", "student_progress", "lesson_announcements")


def upgrade(schema: str) -> None:
    op.execute(TABLES)
    for table in TENANT_SCOPED:
        for statement in tenant_rls_sql(schema, table):
            op.execute(statement)
