"""Questions and their review, AI configurations and usage, generation jobs, attempts and
grades; and the projections of content's lessons, milestones and transcripts.

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
-- Projections of content.events: what generation and grading need to know.
CREATE TABLE lessons (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    title text NOT NULL,
    created_by_id uuid NOT NULL,
    status text NOT NULL DEFAULT 'DRAFT',
    auto_generate_questions boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL
);

CREATE TABLE milestones (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    video_id uuid NOT NULL,
    lesson_id uuid NOT NULL,
    timestamp double precision NOT NULL,
    title text NOT NULL,
    is_required boolean NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL
);
CREATE INDEX milestones_video ON milestones (video_id, timestamp);
CREATE INDEX milestones_lesson ON milestones (lesson_id);

CREATE TABLE transcripts (
    video_id uuid NOT NULL,
    language text NOT NULL,
    tenant_id uuid NOT NULL,
    lesson_id uuid NOT NULL,
    segments jsonb NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (video_id, language)
);

-- Teachers' grading settings for all questions of a milestone (a question may override).
CREATE TABLE milestone_policies (
    milestone_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    max_attempts integer CHECK (max_attempts BETWEEN 1 AND 20),
    retry_penalty numeric(4, 3) CHECK (retry_penalty BETWEEN 0 AND 1),
    partial_credit boolean,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ai_configurations (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    name text NOT NULL,
    provider text NOT NULL CHECK (provider IN ('OPENAI', 'OFFLINE')),
    model text NOT NULL,
    base_url text,
    temperature numeric(3, 2) NOT NULL DEFAULT 0.2 CHECK (temperature BETWEEN 0 AND 2),
    max_tokens integer NOT NULL DEFAULT 2000 CHECK (max_tokens BETWEEN 1 AND 128000),
    prompt_template text NOT NULL,
    input_price_per_1k numeric(12, 6) NOT NULL DEFAULT 0 CHECK (input_price_per_1k >= 0),
    output_price_per_1k numeric(12, 6) NOT NULL DEFAULT 0 CHECK (output_price_per_1k >= 0),
    api_key_encrypted text,  -- AES-GCM (runtime.secrets), never returned by the API
    is_active boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);
CREATE INDEX ai_configurations_active ON ai_configurations (tenant_id, provider) WHERE is_active;

CREATE TABLE generation_jobs (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    lesson_id uuid NOT NULL,
    video_id uuid,
    milestone_ids uuid[] NOT NULL,
    count_per_milestone integer NOT NULL CHECK (count_per_milestone BETWEEN 1 AND 10),
    types text[] NOT NULL,
    configuration_id uuid,
    provider text NOT NULL,
    model text NOT NULL,
    trigger text NOT NULL CHECK (trigger IN ('TEACHER', 'AUTOMATIC')),
    requested_by_id uuid,
    status text NOT NULL DEFAULT 'QUEUED' CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED')),
    runs integer NOT NULL DEFAULT 0,
    error text,
    question_count integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz
);
CREATE INDEX generation_jobs_lesson ON generation_jobs (lesson_id, created_at DESC);

-- The work queue of generation_jobs. Not tenant-scoped: the worker claims across tenants
-- (FOR UPDATE SKIP LOCKED, with a lease so a crashed worker's job is run again); it holds
-- only ids, and the job itself is read under the job's tenant.
CREATE TABLE generation_queue (
    job_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    available_at timestamptz NOT NULL DEFAULT now(),
    runs integer NOT NULL DEFAULT 0
);
CREATE INDEX generation_queue_available ON generation_queue (available_at);

CREATE TABLE questions (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    lesson_id uuid NOT NULL,
    video_id uuid,
    milestone_id uuid,
    type text NOT NULL CHECK (type IN ('MULTIPLE_CHOICE', 'TRUE_FALSE', 'SHORT_ANSWER', 'FILL_IN_THE_BLANK',
                                       'MATCHING', 'ORDERING')),
    prompt text NOT NULL,
    content jsonb NOT NULL,  -- the type's content and answer key (domain/questions.py)
    explanation text NOT NULL DEFAULT '',
    points numeric(6, 2) NOT NULL DEFAULT 1 CHECK (points > 0),
    difficulty text NOT NULL DEFAULT 'MEDIUM' CHECK (difficulty IN ('EASY', 'MEDIUM', 'HARD')),
    status text NOT NULL CHECK (status IN ('DRAFT', 'PENDING_REVIEW', 'APPROVED', 'REJECTED', 'ARCHIVED')),
    source text NOT NULL CHECK (source IN ('AI', 'MANUAL')),
    ai_provider text,
    ai_model text,
    prompt_version text,
    transcript_start double precision,
    transcript_end double precision,
    generation_job_id uuid REFERENCES generation_jobs (id),
    max_attempts integer CHECK (max_attempts BETWEEN 1 AND 20),
    retry_penalty numeric(4, 3) CHECK (retry_penalty BETWEEN 0 AND 1),
    partial_credit boolean,
    rejection_reason text,
    created_by_id uuid,
    reviewed_by_id uuid,
    reviewed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX questions_review ON questions (lesson_id, status, created_at);
CREATE INDEX questions_milestone ON questions (milestone_id, status);

CREATE TABLE ai_usage_logs (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    configuration_id uuid,
    job_id uuid,
    request_type text NOT NULL,
    provider text NOT NULL,
    model text NOT NULL,
    tokens_in integer NOT NULL DEFAULT 0,
    tokens_out integer NOT NULL DEFAULT 0,
    tokens_used integer NOT NULL DEFAULT 0,
    cost numeric(12, 6) NOT NULL DEFAULT 0,
    response_time integer NOT NULL,  -- milliseconds
    success boolean NOT NULL,
    error text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ai_usage_logs_month ON ai_usage_logs (tenant_id, created_at);

CREATE TABLE question_attempts (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    question_id uuid NOT NULL REFERENCES questions (id),
    student_id uuid NOT NULL,
    milestone_id uuid,
    video_id uuid,
    lesson_id uuid NOT NULL,
    attempt_number integer NOT NULL CHECK (attempt_number >= 1),
    answer jsonb NOT NULL,
    score numeric(6, 2) NOT NULL,
    max_score numeric(6, 2) NOT NULL,
    is_correct boolean NOT NULL,
    attempts_left integer NOT NULL,
    time_taken_ms integer,
    idempotency_key text,
    request_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (student_id, question_id, attempt_number),
    UNIQUE (student_id, idempotency_key)
);
CREATE INDEX question_attempts_question ON question_attempts (question_id);
CREATE INDEX question_attempts_lesson ON question_attempts (lesson_id, student_id);

-- Per student, per milestone / video / lesson: best score of each approved question in scope.
CREATE TABLE grades (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    student_id uuid NOT NULL,
    scope text NOT NULL CHECK (scope IN ('MILESTONE', 'VIDEO', 'LESSON')),
    scope_id uuid NOT NULL,
    lesson_id uuid NOT NULL,
    score numeric(10, 2) NOT NULL,
    max_score numeric(10, 2) NOT NULL,
    percent numeric(5, 2) NOT NULL,
    passed boolean NOT NULL,
    questions_answered integer NOT NULL,
    questions_total integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (student_id, scope, scope_id)
);
CREATE INDEX grades_lesson ON grades (lesson_id, scope);
"""

TENANT_SCOPED = ("lessons", "milestones", "transcripts", "milestone_policies", "ai_configurations", "generation_jobs",
                 "questions", "ai_usage_logs", "question_attempts", "grades")


def upgrade(schema: str) -> None:
    op.execute(TABLES)
    for table in TENANT_SCOPED:
        for statement in tenant_rls_sql(schema, table):
            op.execute(statement)
