"""Videos deleted from the draft stay as rows: a published version (a frozen snapshot) may still
play them, and its students' lookups join the videos table.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    op.execute("ALTER TABLE videos ADD COLUMN deleted_at timestamptz")
