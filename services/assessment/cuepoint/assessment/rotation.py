"""``python -m cuepoint.assessment rotate-secrets``: every AI provider API key re-encrypted under the
current CUEPOINT_SECRET_KEY (read with CUEPOINT_PREVIOUS_SECRET_KEYS), so the previous keys can be
dropped (README "Rotating the secret key").

``ai_configurations`` is under forced row-level security and assessment keeps no list of tenants, so
this runs as the schema's owner and, inside each batch's transaction, lifts FORCE for the owner only
(the runtime role stays bound by the policy throughout); the ALTER is undone in the same transaction,
so a failure leaves the table as it was. The batch's lock on the table lasts milliseconds (a few rows
per organisation)."""

from __future__ import annotations

import psycopg

from cuepoint.runtime.db import libpq_dsn
from cuepoint.runtime.secrets import Keyring

from .settings import AssessmentSettings
from .use_cases.generation import api_key_purpose


def rotate_api_keys(settings: AssessmentSettings, keyring: Keyring, *, batch_size: int = 500) -> int:
    """Rows rewritten; a key already under the current master key is left alone (idempotent). A key that
    opens under none of the configured keys stops it (SecretError)."""
    schema = settings.service
    changed = 0
    with psycopg.connect(libpq_dsn(settings.owner_database_url)) as connection:
        while True:
            with connection.transaction():
                connection.execute(f'ALTER TABLE "{schema}".ai_configurations NO FORCE ROW LEVEL SECURITY')
                rows = connection.execute(
                    f'SELECT id, api_key_encrypted FROM "{schema}".ai_configurations '
                    "WHERE api_key_encrypted IS NOT NULL AND api_key_encrypted NOT LIKE %s "
                    "ORDER BY id LIMIT %s FOR UPDATE", (keyring.current_prefix + "%", batch_size)).fetchall()
                for configuration_id, token in rows:
                    connection.execute(
                        f'UPDATE "{schema}".ai_configurations SET api_key_encrypted = %s WHERE id = %s',
                        (keyring.reencrypt(token, purpose=api_key_purpose(configuration_id)), configuration_id))
                connection.execute(f'ALTER TABLE "{schema}".ai_configurations FORCE ROW LEVEL SECURITY')
            changed += len(rows)
            if len(rows) < batch_size:
                return changed
