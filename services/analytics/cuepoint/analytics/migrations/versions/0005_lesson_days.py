"""Started and completed per lesson and day, for completion over time: the dashboard sums a lesson's
few day rows instead of scanning analytics_events. Backfilled from the progress events the event
store already holds, with the live projection's rules (a student starts on the day of their first
progress event and completes on the day of their first completion).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from cuepoint.runtime.migrations import tenant_rls_sql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLE = """
CREATE TABLE lesson_days (
    lesson_id uuid NOT NULL,
    day date NOT NULL,
    tenant_id uuid NOT NULL,
    started integer NOT NULL,
    completed integer NOT NULL,
    PRIMARY KEY (lesson_id, day)
);
"""

# The sources are tenant-isolated even from their owner (FORCE): lifted for the backfill only,
# inside this migration's transaction.
BACKFILL = """
ALTER TABLE analytics_events NO FORCE ROW LEVEL SECURITY;
ALTER TABLE student_progress NO FORCE ROW LEVEL SECURITY;
WITH progress AS (
    SELECT e.tenant_id, (e.data->>'student_id')::uuid AS student_id, (e.data->>'lesson_id')::uuid AS lesson_id,
           (e.occurred_at AT TIME ZONE 'UTC')::date AS day,
           CASE WHEN e.event_type = 'progress.lesson.completed.v1'
                THEN ((e.data->>'completed_at')::timestamptz AT TIME ZONE 'UTC')::date
                WHEN e.data->>'status' = 'COMPLETED' THEN (e.occurred_at AT TIME ZONE 'UTC')::date END AS completed_day
    FROM analytics_events e
    WHERE e.category = 'domain' AND e.event_type IN ('progress.lesson.progressed.v1', 'progress.lesson.completed.v1')),
students AS (
    SELECT p.tenant_id, p.lesson_id, p.student_id, min(p.day) AS started_day,
           min(p.completed_day) FILTER (WHERE sp.status = 'COMPLETED') AS completed_day
    FROM progress p LEFT JOIN student_progress sp USING (student_id, lesson_id)
    GROUP BY 1, 2, 3),
days AS (
    SELECT tenant_id, lesson_id, started_day AS day, 1 AS started, 0 AS completed FROM students
    UNION ALL
    SELECT tenant_id, lesson_id, completed_day, 0, 1 FROM students WHERE completed_day IS NOT NULL)
INSERT INTO lesson_days (lesson_id, day, tenant_id, started, completed)
SELECT lesson_id, day, min(tenant_id::text)::uuid, sum(started), sum(completed) FROM days GROUP BY lesson_id, day;
ALTER TABLE analytics_events FORCE ROW LEVEL SECURITY;
ALTER TABLE student_progress FORCE ROW LEVEL SECURITY;
"""


def upgrade(schema: str) -> None:
    op.execute(TABLE)
    op.execute(BACKFILL)
    for statement in tenant_rls_sql(schema, "lesson_days"):
        op.execute(statement)
