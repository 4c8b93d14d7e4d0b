"""Sensitive fields encrypted at rest (issue 16): users.email, invitations.email,
email_change_tokens.new_email and the client of each session (device_id, user_agent, ip_address) hold
AES-256-GCM ciphertext under the keyring of CUEPOINT_SECRET_KEY; what is looked up gets a blind index
beside it (users.email_index, unique per organisation as the address was; invitations.email_index;
auth_sessions.ip_address_index). identity/sensitive.py says which and why.

The columns keep their names (what reads the schema finds the same tables and columns; each says what
it holds in its comment). Existing rows are encrypted here: the migration runs with the service's own
settings (``python -m cuepoint.identity migrate``, the compose and Kubernetes migrate jobs have
identity's secrets), so it seals under the same CUEPOINT_SECRET_KEY the service will open with.
Tables are under forced row-level security, which binds the owner too: rows are read and written
tenant by tenant, each with its app.tenant_id.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COMMENTS = {
    "users.email": "encrypted (AES-256-GCM, v2.<key id>.<...>, identity/sensitive.py); looked up by email_index",
    "users.email_index": "blind index: HMAC-SHA256 of the lower-cased address under a key derived from "
                         "CUEPOINT_SECRET_KEY; unique per tenant",
    "invitations.email": "encrypted (identity/sensitive.py); looked up by email_index",
    "invitations.email_index": "blind index of the lower-cased address (as users.email_index)",
    "email_change_tokens.new_email": "encrypted (identity/sensitive.py)",
    "auth_sessions.device_id": "encrypted (identity/sensitive.py)",
    "auth_sessions.user_agent": "encrypted (identity/sensitive.py)",
    "auth_sessions.ip_address": "encrypted (identity/sensitive.py); looked up by ip_address_index",
    "auth_sessions.ip_address_index": "blind index of the address (sign-in throttling: a known address)",
}

ROWS = {  # table: the columns sealed here (sensitive.ENCRYPTED)
    "users": ("email",),
    "invitations": ("email",),
    "email_change_tokens": ("new_email",),
    "auth_sessions": ("device_id", "user_agent", "ip_address"),
}


def upgrade(schema: str) -> None:
    from cuepoint.runtime.secrets import Keyring

    from cuepoint.identity.sensitive import SensitiveFields
    from cuepoint.identity.settings import IdentitySettings

    op.execute("ALTER TABLE users ADD COLUMN email_index bytea")
    op.execute("ALTER TABLE invitations ADD COLUMN email_index bytea")
    op.execute("ALTER TABLE auth_sessions ADD COLUMN ip_address_index bytea")
    # lower(ciphertext) means nothing: uniqueness and search move to the index and the name.
    op.execute("DROP INDEX users_tenant_email")
    op.execute("DROP INDEX users_search")

    fields = SensitiveFields(Keyring.from_settings(IdentitySettings()))
    connection = op.get_bind()
    for (tenant_id,) in connection.execute(text("SELECT id FROM tenants ORDER BY id")).all():
        connection.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant_id)})
        for table, columns in ROWS.items():
            rows = connection.execute(text(f"SELECT id, {', '.join(columns)} FROM {table}")).mappings().all()
            for row in rows:
                values = fields.seal(table, {column: row[column] for column in columns})
                assignments = ", ".join(f"{column} = :{column}" for column in values)
                connection.execute(text(f"UPDATE {table} SET {assignments} WHERE id = :id"), {**values, "id": row["id"]})
    connection.execute(text("SELECT set_config('app.tenant_id', '', true)"))

    op.execute("ALTER TABLE users ALTER COLUMN email_index SET NOT NULL")
    op.execute("CREATE UNIQUE INDEX users_tenant_email_index ON users (tenant_id, email_index)")
    op.execute("CREATE INDEX users_search ON users USING gin (lower(display_name) gin_trgm_ops)")
    op.execute("CREATE INDEX invitations_email_index ON invitations (tenant_id, email_index)")
    op.execute("CREATE INDEX auth_sessions_ip_address_index ON auth_sessions (user_id, ip_address_index)")
    for column, comment in COMMENTS.items():
        op.execute(text(f"COMMENT ON COLUMN {column} IS '{comment}'"))
