"""Students' lesson scores as assessment grades them (``assessment.lesson.graded.v1``): progress's
``student_progress.average_score`` is this percent, so that the grade, the progress and the dashboards
show one number (issue 17). progress never computes a score of its own.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from cuepoint.runtime.migrations import tenant_rls_sql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE lesson_scores (
    student_id uuid NOT NULL,
    lesson_id uuid NOT NULL,
    tenant_id uuid NOT NULL,
    percent numeric(5, 2) NOT NULL,
    passed boolean NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (student_id, lesson_id)
);
"""


def upgrade(schema: str) -> None:
    op.execute(TABLES)
    for statement in tenant_rls_sql(schema, "lesson_scores"):
        op.execute(statement)
