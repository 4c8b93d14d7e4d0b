"""Rotating the secret key: every encrypted column re-encrypted (and every blind index recomputed)
under the current CUEPOINT_SECRET_KEY, so the keys in CUEPOINT_PREVIOUS_SECRET_KEYS can be dropped
(README "Rotating the secret key"). ``python -m cuepoint.identity rotate-secrets``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cuepoint.runtime.secrets import Keyring
from cuepoint.runtime.unit_of_work import UnitsOfWork

from ..sensitive import ENCRYPTED, SensitiveFields
from ..unit_of_work import IdentityUnitOfWork
from .exports import archive_purpose, key_purpose

SIGNING_KEY_PURPOSE = "identity.signing-key"  # security.SigningKeys.PURPOSE


@dataclass(frozen=True)
class RotateSecrets:
    batch_size: int = 500


async def rotate_secrets(command: RotateSecrets, units: UnitsOfWork[IdentityUnitOfWork], *,
                         keyring: Keyring) -> dict[str, int]:
    """Rows rewritten, by table. Batch by batch (one transaction each), tenant by tenant; a row already
    under the current key is left alone, so running it again changes nothing. A value that opens under
    none of the configured keys stops it (SecretError): the key it was sealed with is missing."""
    fields = SensitiveFields(keyring)
    changed = {table: 0 for table in [*ENCRYPTED, "data_exports", "signing_keys"]}

    def tenant_values(table: str, row: dict[str, Any]) -> dict[str, Any]:
        opened = fields.open(table, row)
        return fields.seal(table, {column: opened[column] for column in ENCRYPTED[table]})

    def signing_values(table: str, row: dict[str, Any]) -> dict[str, Any]:
        return {"private_key_encrypted": keyring.reencrypt(row["private_key_encrypted"], purpose=SIGNING_KEY_PURPOSE)}

    def export_values(table: str, row: dict[str, Any]) -> dict[str, Any]:
        return {"private_key_encrypted": keyring.reencrypt(row["private_key_encrypted"], purpose=key_purpose(row["id"])),
                "archive": keyring.reencrypt(row["archive"], purpose=archive_purpose(row["id"]))}

    async def rotate(tenant_id: Any, table: str, key: str, columns: tuple[str, ...], values: Any) -> None:
        while True:
            async with units(tenant_id) as uow:
                rows = await uow.sealed.stale(table, key, columns, keyring.current_prefix, command.batch_size)
                for row in rows:
                    await uow.sealed.rewrite(table, key, row[key], values(table, row))
            changed[table] += len(rows)
            if len(rows) < command.batch_size:
                return

    await rotate(None, "signing_keys", "kid", ("private_key_encrypted",), signing_values)
    async with units(None) as uow:
        tenant_ids = await uow.tenants.all_ids()
    for tenant_id in tenant_ids:
        for table, columns in ENCRYPTED.items():
            await rotate(tenant_id, table, "id", columns, tenant_values)
        # An export's private key while its parts are still arriving, its archive until it expires.
        await rotate(tenant_id, "data_exports", "id", ("private_key_encrypted", "archive"), export_values)
    return changed
