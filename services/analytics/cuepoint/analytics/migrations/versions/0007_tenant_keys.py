"""Every read model keyed by tenant first, and what each tenant owns (issue 16, finding 2).

Keyed by ids alone, a row one tenant's events created blocked another's: ``video_buckets`` was
upserted ``ON CONFLICT (video_id, bucket)``, so a tenant-B student's heartbeats for a tenant-A video
made B-owned rows, and A's own heartbeats for those buckets then failed row-level security and were
dead-lettered. With ``tenant_id`` leading every key, tenants' rows never meet.

``videos`` and ``questions`` hold which lesson each id belongs to, per tenant, learned from the content
and assessment events analytics consumes: the ingest refuses client events naming ids the caller's
tenant does not own, and the video engagement dashboard finds the video's author. Backfilled from the
domain events the event store already holds (client events are not trusted for it).

Revision ID: 0007
Revises: 0006
"""

from alembic import op

from cuepoint.runtime.migrations import tenant_rls_sql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

REKEYED = {
    "lessons": "id",
    "milestones": "id",
    "student_progress": "student_id, lesson_id",
    "ai_usage_logs": "id",
    "generation_outcomes": "job_id",
    "question_results": "question_id, student_id",
    "option_picks": "question_id, option_id",
    "video_buckets": "video_id, bucket",
    "student_video_buckets": "video_id, student_id",
    "lesson_stats": "lesson_id",
    "lesson_days": "lesson_id, day",
}

TABLES = """
CREATE TABLE videos (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    lesson_id uuid NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE TABLE questions (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    lesson_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
"""

# The event store is tenant-isolated even from its owner (FORCE): lifted for the backfill only, inside
# this migration's transaction.
BACKFILL = """
ALTER TABLE analytics_events NO FORCE ROW LEVEL SECURITY;
INSERT INTO videos (tenant_id, id, lesson_id, updated_at)
SELECT DISTINCT ON (tenant_id, video_id) tenant_id, video_id, lesson_id, occurred_at FROM analytics_events
WHERE category = 'domain' AND event_type LIKE 'content.%' AND video_id IS NOT NULL AND lesson_id IS NOT NULL
ORDER BY tenant_id, video_id, occurred_at DESC;
INSERT INTO questions (tenant_id, id, lesson_id)
SELECT DISTINCT tenant_id, question_id, lesson_id FROM (
    SELECT tenant_id, question_id, lesson_id FROM analytics_events
    WHERE category = 'domain' AND event_type LIKE 'assessment.%' AND question_id IS NOT NULL AND lesson_id IS NOT NULL
    UNION ALL
    SELECT e.tenant_id, (q->>'question_id')::uuid, e.lesson_id FROM analytics_events e,
           jsonb_array_elements(e.data->'questions') AS q
    WHERE e.category = 'domain' AND e.event_type = 'assessment.questions.generated.v1' AND e.lesson_id IS NOT NULL
) AS known
ON CONFLICT DO NOTHING;
ALTER TABLE analytics_events FORCE ROW LEVEL SECURITY;
"""


def upgrade(schema: str) -> None:
    for table, key in REKEYED.items():
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, ADD PRIMARY KEY (tenant_id, {key})")
    op.execute(TABLES)
    op.execute(BACKFILL)
    for table in ("videos", "questions"):
        for statement in tenant_rls_sql(schema, table):
            op.execute(statement)
