"""Password-reset and email-change tokens (single-use, short-lived, hashed like the others).

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
CREATE TABLE password_reset_tokens (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX password_reset_tokens_user ON password_reset_tokens (user_id, created_at);

CREATE TABLE email_change_tokens (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    new_email text NOT NULL,
    token_hash bytea NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_change_tokens_user ON email_change_tokens (user_id, created_at);
"""


def upgrade(schema: str) -> None:
    op.execute(TABLES)
    for table in ("password_reset_tokens", "email_change_tokens"):
        for statement in tenant_rls_sql(schema, table):
            op.execute(statement)
