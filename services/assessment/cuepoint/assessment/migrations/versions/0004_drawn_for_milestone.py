"""The milestone an AI draft was drawn for, kept when a reviewer moves the question elsewhere.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    # No backfill: under forced row-level security the owner sees no rows here. Drafts from before this
    # revision answer their current milestone instead (views: ``_teacher_view``).
    op.execute("ALTER TABLE questions ADD COLUMN drawn_for_milestone_id uuid")
