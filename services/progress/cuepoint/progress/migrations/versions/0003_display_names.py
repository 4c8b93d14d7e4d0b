"""Users' display names, projected from identity's compacted ``identity.user-profiles``, so that a
teacher's class view shows who each student is. Only the name is kept (never the email); a
tombstone (erasure) deletes the row.

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
-- Keyed by tenant too: a profile published under another tenant is another row, which that
-- tenant's policy hides, rather than a conflict with this tenant's row.
CREATE TABLE display_names (
    tenant_id uuid NOT NULL,
    user_id uuid NOT NULL,
    display_name text NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
"""

TENANT_SCOPED = ("display_names",)


def upgrade(schema: str) -> None:
    op.execute(TABLES)
    for table in TENANT_SCOPED:
        for statement in tenant_rls_sql(schema, table):
            op.execute(statement)
