"""The published lessons' titles, projected from content's events for notification emails.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from cuepoint.runtime.migrations import tenant_rls_sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    op.execute("""
CREATE TABLE published_lessons (
    lesson_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    title text NOT NULL,
    created_by_id uuid NOT NULL,
    version integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
)""")
    for statement in tenant_rls_sql(schema, "published_lessons"):
        op.execute(statement)
