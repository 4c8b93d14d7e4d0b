"""analytics_events (partitioned by month), the hash-chained audit_logs, and the read models
the dashboards answer from. Everything here is a projection of Kafka topics.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from cuepoint.runtime.migrations import TENANT_SETTING, tenant_rls_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE analytics_events (
    id uuid NOT NULL,  -- the envelope's event id
    tenant_id uuid NOT NULL,
    user_id uuid,
    event_type text NOT NULL,  -- a client event's type (video.heartbeat, …) or a domain event type
    category text NOT NULL CHECK (category IN ('playback', 'question', 'navigation', 'performance', 'error',
                                                'domain')),
    lesson_id uuid,
    video_id uuid,
    question_id uuid,
    device_id text,
    data jsonb NOT NULL,
    occurred_at timestamptz NOT NULL,  -- server time (received_at for client events)
    PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE TABLE analytics_events_default PARTITION OF analytics_events DEFAULT;
CREATE INDEX analytics_events_series ON analytics_events (tenant_id, event_type, occurred_at);
CREATE INDEX analytics_events_video ON analytics_events (video_id, occurred_at) WHERE video_id IS NOT NULL;
CREATE INDEX analytics_events_user ON analytics_events (user_id, occurred_at);
CREATE INDEX analytics_events_data ON analytics_events USING gin (data jsonb_path_ops);

-- Monthly partitions, created ahead by the worker through this function (it runs as the
-- owner: the runtime role may not create tables).
CREATE FUNCTION ensure_event_partitions(months_ahead integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
DECLARE
    month date := date_trunc('month', now() - interval '1 month');
    created integer := 0;
    name text;
BEGIN
    FOR i IN 0..months_ahead + 1 LOOP
        name := 'analytics_events_' || to_char(month, 'YYYY_MM');
        IF to_regclass('{schema}.' || name) IS NULL THEN
            EXECUTE format('CREATE TABLE {schema}.%I PARTITION OF {schema}.analytics_events '
                           'FOR VALUES FROM (%L) TO (%L)', name, month, month + interval '1 month');
            -- A partition is a table of its own: it gets the same tenant isolation.
            EXECUTE format('ALTER TABLE {schema}.%I ENABLE ROW LEVEL SECURITY', name);
            EXECUTE format('ALTER TABLE {schema}.%I FORCE ROW LEVEL SECURITY', name);
            EXECUTE format('CREATE POLICY tenant_isolation ON {schema}.%I USING (tenant_id = {tenant}) '
                           'WITH CHECK (tenant_id = {tenant})', name);
            created := created + 1;
        END IF;
        month := month + interval '1 month';
    END LOOP;
    RETURN created;
END $$;
REVOKE ALL ON FUNCTION ensure_event_partitions(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ensure_event_partitions(integer) TO {runtime_role};

CREATE TABLE audit_logs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id uuid NOT NULL,
    seq bigint NOT NULL,
    event_id uuid NOT NULL UNIQUE,
    actor_id uuid,
    action text NOT NULL,
    target_type text NOT NULL,
    target_id text NOT NULL,
    correlation_id text,
    occurred_at timestamptz NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    UNIQUE (tenant_id, seq)
);
CREATE INDEX audit_logs_actor ON audit_logs (tenant_id, actor_id, occurred_at);
CREATE INDEX audit_logs_target ON audit_logs (tenant_id, target_type, target_id, occurred_at);
CREATE INDEX audit_logs_action ON audit_logs (tenant_id, action, occurred_at);
-- The newest entry of each tenant's chain: deleting the tail is detectable too. Read across
-- tenants by `verify` (to know which chains exist), so it holds ids and hashes only.
CREATE TABLE audit_heads (
    tenant_id uuid PRIMARY KEY,
    seq bigint NOT NULL,
    hash text NOT NULL
);
CREATE FUNCTION audit_logs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit_logs is append-only'; END $$;
CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION audit_logs_append_only();

-- Read models of the dashboards.
CREATE TABLE lessons (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    title text NOT NULL,
    created_by_id uuid NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX lessons_author ON lessons (created_by_id);

CREATE TABLE milestones (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    video_id uuid NOT NULL,
    timestamp double precision NOT NULL,
    title text NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL
);
CREATE INDEX milestones_video ON milestones (video_id);

CREATE TABLE student_progress (
    student_id uuid NOT NULL,
    lesson_id uuid NOT NULL,
    tenant_id uuid NOT NULL,
    completion_percent numeric(5, 2) NOT NULL,
    average_score numeric(5, 2),
    total_time_spent integer NOT NULL,
    status text NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (student_id, lesson_id)
);
CREATE INDEX student_progress_lesson ON student_progress (lesson_id);

CREATE TABLE ai_usage_logs (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    request_type text NOT NULL,
    provider text NOT NULL,
    model text NOT NULL,
    tokens_used integer NOT NULL,
    cost numeric(12, 6) NOT NULL,
    response_time integer NOT NULL,
    success boolean NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX ai_usage_logs_month ON ai_usage_logs (tenant_id, created_at);

CREATE TABLE generation_outcomes (
    job_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    lesson_id uuid NOT NULL,
    provider text NOT NULL,
    succeeded boolean NOT NULL,
    question_count integer NOT NULL,
    occurred_at timestamptz NOT NULL
);

-- Per student and question: the first attempt (difficulty, discrimination) and the latest.
CREATE TABLE question_results (
    student_id uuid NOT NULL,
    question_id uuid NOT NULL,
    tenant_id uuid NOT NULL,
    lesson_id uuid NOT NULL,
    first_fraction numeric(6, 4) NOT NULL,
    first_correct boolean NOT NULL,
    attempts integer NOT NULL,
    best_fraction numeric(6, 4) NOT NULL,
    PRIMARY KEY (question_id, student_id)
);
CREATE INDEX question_results_lesson ON question_results (lesson_id);
CREATE TABLE option_picks (
    question_id uuid NOT NULL,
    option_id text NOT NULL,
    tenant_id uuid NOT NULL,
    picks integer NOT NULL,
    PRIMARY KEY (question_id, option_id)
);

-- Video engagement per 5-second bucket.
CREATE TABLE video_buckets (
    video_id uuid NOT NULL,
    bucket integer NOT NULL,
    tenant_id uuid NOT NULL,
    views integer NOT NULL,     -- students who played it at least once
    rewatches integer NOT NULL, -- plays beyond each student's first
    PRIMARY KEY (video_id, bucket)
);
CREATE TABLE student_video_buckets (
    student_id uuid NOT NULL,
    video_id uuid NOT NULL,
    tenant_id uuid NOT NULL,
    buckets integer[] NOT NULL,  -- sorted bucket numbers played
    furthest integer NOT NULL,
    PRIMARY KEY (video_id, student_id)
);

-- Client events per tenant, day and type (engagement and error rates).
CREATE TABLE daily_counts (
    tenant_id uuid NOT NULL,
    day date NOT NULL,
    event_type text NOT NULL,
    events integer NOT NULL,
    PRIMARY KEY (tenant_id, day, event_type)
);
CREATE TABLE daily_users (
    tenant_id uuid NOT NULL,
    day date NOT NULL,
    user_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, day, user_id)
);
"""

TENANT_SCOPED = ("analytics_events", "analytics_events_default", "audit_logs", "lessons", "milestones", "student_progress", "ai_usage_logs",
                 "generation_outcomes", "question_results", "option_picks", "video_buckets", "student_video_buckets",
                 "daily_counts", "daily_users")

def upgrade(schema: str) -> None:
    op.execute(TABLES.replace("{schema}", f'"{schema}"').replace("{runtime_role}", f'"cuepoint_{schema}"')
               .replace("{tenant}", TENANT_SETTING.replace("'", "''")))
    for table in TENANT_SCOPED:
        for statement in tenant_rls_sql(schema, table):
            op.execute(statement)
    op.execute(f'SELECT "{schema}".ensure_event_partitions(3)')
