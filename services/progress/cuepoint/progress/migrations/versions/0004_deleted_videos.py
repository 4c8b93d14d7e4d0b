"""Videos deleted from a lesson's draft (``content.video.deleted.v1``) are marked, not removed: a
published version that holds one keeps playing it (and progress keeps counting it) until a new
version is published without it; only a lesson with no published version leaves it out at once.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    op.execute("ALTER TABLE videos ADD COLUMN deleted boolean NOT NULL DEFAULT false")
