"""Data exports (issue 16): a person's export request, the parts each service sends for it (sealed to
the export's public key), and the assembled archive.

The private key that opens the parts is kept encrypted at rest (identity's SecretBox) only until the
archive is assembled; an archive expires (its bytes and parts deleted) after a set number of days.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

from cuepoint.runtime.migrations import tenant_rls_sql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    op.execute("""
CREATE TABLE data_exports (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    user_id uuid NOT NULL,
    requested_by_id uuid NOT NULL,
    status text NOT NULL CHECK (status IN ('ASSEMBLING', 'READY', 'FAILED', 'EXPIRED')),
    public_key bytea NOT NULL,
    private_key_encrypted text,
    services text[] NOT NULL,
    archive text,  -- the ZIP, encrypted (SecretBox token, purpose identity.export-archive:<id>)
    requested_at timestamptz NOT NULL DEFAULT now(),
    ready_at timestamptz,
    expires_at timestamptz
)""")
    op.execute("CREATE INDEX data_exports_user ON data_exports (tenant_id, user_id, requested_at DESC)")
    op.execute("CREATE INDEX data_exports_expiring ON data_exports (expires_at) WHERE status = 'READY'")
    op.execute("""
CREATE TABLE data_export_parts (
    export_id uuid NOT NULL REFERENCES data_exports (id) ON DELETE CASCADE,
    service text NOT NULL,
    chunk integer NOT NULL CHECK (chunk >= 0),
    tenant_id uuid NOT NULL,
    chunks integer NOT NULL CHECK (chunks >= 1 AND chunk < chunks),
    sealed bytea NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (export_id, service, chunk)
)""")
    for table in ("data_exports", "data_export_parts"):
        for statement in tenant_rls_sql(schema, table):
            op.execute(statement)
