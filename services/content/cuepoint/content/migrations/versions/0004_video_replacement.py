"""A video's file can be replaced while the video (id, milestones, transcripts) stays: the pending
replacement's upload lives beside the current file until it is completed, so an abandoned one
leaves the video playing what it played.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    op.execute("ALTER TABLE videos ADD COLUMN replacement jsonb")
