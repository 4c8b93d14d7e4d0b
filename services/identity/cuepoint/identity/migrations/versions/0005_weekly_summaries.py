"""What teachers' weekly summaries need: answers per lesson, day and student (from assessment's
AttemptGraded, kept five weeks), and which summaries were sent (one per teacher and week).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from cuepoint.runtime.migrations import tenant_rls_sql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    op.execute("""
CREATE TABLE lesson_activity (
    tenant_id uuid NOT NULL,
    lesson_id uuid NOT NULL,
    day date NOT NULL,
    student_id uuid NOT NULL,
    attempts integer NOT NULL,
    correct integer NOT NULL,
    PRIMARY KEY (lesson_id, day, student_id)
)""")
    op.execute("CREATE INDEX lesson_activity_tenant_day ON lesson_activity (tenant_id, day)")
    op.execute("""
CREATE TABLE weekly_summaries (
    tenant_id uuid NOT NULL,
    user_id uuid NOT NULL,
    week date NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, week)
)""")
    for table in ("lesson_activity", "weekly_summaries"):
        for statement in tenant_rls_sql(schema, table):
            op.execute(statement)
