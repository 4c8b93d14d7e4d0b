"""Roll-ups the dashboards read instead of aggregating rows per request: active users per day,
started/completed per lesson, AI usage per month and request type. Backfilled from the
read models they summarise.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from cuepoint.runtime.migrations import tenant_rls_sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE daily_active (
    tenant_id uuid NOT NULL,
    day date NOT NULL,
    users integer NOT NULL,
    PRIMARY KEY (tenant_id, day)
);
CREATE TABLE lesson_stats (
    lesson_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    started integer NOT NULL,
    completed integer NOT NULL
);
CREATE TABLE ai_usage_monthly (
    tenant_id uuid NOT NULL,
    month timestamptz NOT NULL,
    request_type text NOT NULL,
    requests integer NOT NULL,
    tokens bigint NOT NULL,
    cost numeric(14, 6) NOT NULL,
    response_time_total bigint NOT NULL,
    PRIMARY KEY (tenant_id, month, request_type)
);
"""

# The sources are tenant-isolated even from their owner (FORCE): lifted for the backfill only,
# inside this migration's transaction.
BACKFILL = """
ALTER TABLE daily_users NO FORCE ROW LEVEL SECURITY;
ALTER TABLE student_progress NO FORCE ROW LEVEL SECURITY;
ALTER TABLE ai_usage_logs NO FORCE ROW LEVEL SECURITY;
INSERT INTO daily_active SELECT tenant_id, day, count(*) FROM daily_users GROUP BY tenant_id, day;
INSERT INTO lesson_stats SELECT lesson_id, min(tenant_id::text)::uuid, count(*), count(*) FILTER (WHERE status = 'COMPLETED')
    FROM student_progress GROUP BY lesson_id;
INSERT INTO ai_usage_monthly SELECT tenant_id, date_trunc('month', created_at), request_type, count(*), sum(tokens_used),
    sum(cost), sum(response_time) FROM ai_usage_logs GROUP BY 1, 2, 3;
ALTER TABLE daily_users FORCE ROW LEVEL SECURITY;
ALTER TABLE student_progress FORCE ROW LEVEL SECURITY;
ALTER TABLE ai_usage_logs FORCE ROW LEVEL SECURITY;
"""


def upgrade(schema: str) -> None:
    op.execute(TABLES)
    op.execute(BACKFILL)
    for table in ("daily_active", "lesson_stats", "ai_usage_monthly"):
        for statement in tenant_rls_sql(schema, table):
            op.execute(statement)
