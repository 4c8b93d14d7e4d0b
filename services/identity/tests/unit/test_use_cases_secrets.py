"""rotate_secrets: every sealed value and blind index under the current key, in batches, once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from cuepoint.identity.sensitive import SensitiveFields
from cuepoint.identity.use_cases.exports import archive_purpose, key_purpose
from cuepoint.identity.use_cases.secrets import SIGNING_KEY_PURPOSE, RotateSecrets, rotate_secrets
from cuepoint.runtime.secrets import Keyring, SecretError
from cuepoint.runtime.unit_of_work import FakeUnitsOfWork

OLD, NEW = Keyring.generate_key(), Keyring.generate_key()


class FakeTenants:
    def __init__(self, *ids: uuid.UUID) -> None:
        self.ids = list(ids)

    async def all_ids(self) -> list[uuid.UUID]:
        return self.ids


class FakeSealedRows:
    """Rows by (tenant, table); what ``stale`` answers is what a LIKE on the current prefix would."""

    def __init__(self) -> None:
        self.rows: dict[tuple[Any, str], dict[Any, dict[str, Any]]] = {}
        self.batches = 0
        self.tenant: Any = None

    def put(self, tenant_id: Any, table: str, key: Any, **values: Any) -> None:
        self.rows.setdefault((tenant_id, table), {})[key] = values

    async def stale(self, table: str, key: str, columns: tuple[str, ...], current_prefix: str,
                    limit: int) -> list[dict[str, Any]]:
        self.batches += 1
        rows = self.rows.get((self.tenant, table), {})
        found = [{key: k, **{c: v[c] for c in columns}} for k, v in sorted(rows.items(), key=lambda kv: str(kv[0]))
                 if any(v[c] is not None and not v[c].startswith(current_prefix) for c in columns)]
        return found[:limit]

    async def rewrite(self, table: str, key: str, key_value: Any, values: dict[str, Any]) -> None:
        self.rows[(self.tenant, table)][key_value].update(values)


class Units(FakeUnitsOfWork):
    """The fake units, telling the sealed rows whose tenant's transaction is open."""

    def __call__(self, tenant_id: Any) -> Any:
        self.repositories["sealed"].tenant = tenant_id
        return super().__call__(tenant_id)


def world(tenant_id: uuid.UUID) -> tuple[Units, FakeSealedRows]:
    old = SensitiveFields(Keyring(OLD))
    sealed = FakeSealedRows()
    sealed.put(None, "signing_keys", "k1",
               private_key_encrypted=Keyring(OLD).encrypt(b"pem", purpose=SIGNING_KEY_PURPOSE))
    for n in range(3):
        sealed.put(tenant_id, "users", uuid.uuid4(), **old.seal("users", {"email": f"User{n}@Example.com"}))
    export_id = uuid.uuid4()
    sealed.put(tenant_id, "data_exports", export_id,  # assembling: its key, no archive yet
               private_key_encrypted=Keyring(OLD).encrypt(b"x25519", purpose=key_purpose(export_id)), archive=None)
    ready_id = uuid.uuid4()
    sealed.put(tenant_id, "data_exports", ready_id, private_key_encrypted=None,  # assembled: key deleted
               archive=Keyring(OLD).encrypt(b"PK zip", purpose=archive_purpose(ready_id)))
    sealed.put(tenant_id, "data_exports", uuid.uuid4(), private_key_encrypted=None, archive=None)  # expired
    sealed.put(tenant_id, "auth_sessions", uuid.uuid4(), **old.seal(
        "auth_sessions", {"device_id": None, "user_agent": "Firefox", "ip_address": "10.0.0.1"}))
    return Units(tenants=FakeTenants(tenant_id), sealed=sealed), sealed


async def test_rotate_secrets_reencrypts_and_reindexes_under_the_current_key_once() -> None:
    tenant_id = uuid.uuid4()
    units, sealed = world(tenant_id)
    keyring = Keyring(NEW, [OLD])
    changed = await rotate_secrets(RotateSecrets(batch_size=2), units, keyring=keyring)
    assert changed["users"] == 3 and changed["auth_sessions"] == 1 and changed["signing_keys"] == 1
    assert changed["data_exports"] == 2
    ready = [(k, row["archive"]) for k, row in sealed.rows[(tenant_id, "data_exports")].items() if row["archive"]]
    assert [Keyring(NEW).decrypt(archive, purpose=archive_purpose(k)) for k, archive in ready] == [b"PK zip"]
    new_only = SensitiveFields(Keyring(NEW))
    users = sealed.rows[(tenant_id, "users")].values()
    assert {new_only.open("users", u)["email"] for u in users} == {f"User{n}@Example.com" for n in range(3)}
    assert {u["email_index"] for u in users} == {new_only.email_indexes(f"user{n}@example.com")[0] for n in range(3)}
    session = next(iter(sealed.rows[(tenant_id, "auth_sessions")].values()))
    assert new_only.open("auth_sessions", session) == {"device_id": None, "user_agent": "Firefox",
                                                       "ip_address": "10.0.0.1"}
    assert session["ip_address_index"] == new_only.ip_indexes("10.0.0.1")[0]
    key = sealed.rows[(None, "signing_keys")]["k1"]["private_key_encrypted"]
    assert Keyring(NEW).decrypt(key, purpose=SIGNING_KEY_PURPOSE) == b"pem"

    again = await rotate_secrets(RotateSecrets(batch_size=2), units, keyring=keyring)
    assert sum(again.values()) == 0


async def test_rotate_secrets_stops_at_a_value_no_configured_key_opens() -> None:
    units, _ = world(uuid.uuid4())
    with pytest.raises(SecretError):
        await rotate_secrets(RotateSecrets(), units, keyring=Keyring(NEW))  # the old key dropped too early
