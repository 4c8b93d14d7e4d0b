"""A teacher's override of a typed answer's score: the attempt keeps what the grading gave.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    op.execute("""
        ALTER TABLE question_attempts
            ADD COLUMN graded_score numeric(6, 2),  -- the automatic grading's score; NULL until overridden
            ADD COLUMN override_reason text,
            ADD COLUMN overridden_by_id uuid,
            ADD COLUMN overridden_at timestamptz,
            ADD CONSTRAINT question_attempts_override_complete CHECK (
                (overridden_at IS NULL) = (graded_score IS NULL)
                AND (overridden_at IS NULL) = (override_reason IS NULL))
    """)
