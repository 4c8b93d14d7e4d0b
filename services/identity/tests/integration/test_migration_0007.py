"""Migration 0007 on a database that already has accounts: every address and session client stored in
plaintext by 0006's schema is encrypted in place, with its blind index, under the service's key."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from cuepoint.identity.bootstrap import spec
from cuepoint.identity.settings import IdentitySettings
from cuepoint.runtime.migrations import upgrade
from cuepoint.runtime.provision import provision
from tests.support.platform import ROLE_PASSWORD, Infra

from .conftest import sensitive


@pytest.fixture
def scratch(infra: Infra, test_database: str) -> Iterator[str]:
    database = f"{infra.database}_m0007"
    with psycopg.connect(infra.admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    provision(infra.admin_url, database, ROLE_PASSWORD, ["identity"])
    yield database
    with psycopg.connect(infra.admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def test_the_upgrade_encrypts_what_was_stored_in_plaintext(infra: Infra, scratch: str) -> None:
    url = infra.settings("identity", IdentitySettings, pg_database=scratch).owner_database_url
    upgrade(spec().migrations, schema="identity", url=url, revision="0006")
    tenant, user, session = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(infra.admin_database_url(scratch), autocommit=True) as admin:
        admin.execute("INSERT INTO identity.tenants (id, slug, name) VALUES (%s, 'old-school', 'Old School')", (tenant,))
        admin.execute("INSERT INTO identity.users (id, tenant_id, email, display_name, password_hash, role) "
                      "VALUES (%s, %s, 'Old.Timer@Example.com', 'Old Timer', 'x', 'ADMIN')", (user, tenant))
        admin.execute("INSERT INTO identity.invitations (id, tenant_id, email, role, invited_by_id, token_hash, "
                      "expires_at) VALUES (%s, %s, 'guest@example.com', 'STUDENT', %s, '\\x01', now())",
                      (uuid.uuid4(), tenant, user))
        admin.execute("INSERT INTO identity.email_change_tokens (id, tenant_id, user_id, new_email, token_hash, "
                      "expires_at) VALUES (%s, %s, %s, 'new.timer@example.com', '\\x02', now())",
                      (uuid.uuid4(), tenant, user))
        admin.execute("INSERT INTO identity.auth_sessions (id, tenant_id, user_id, device_id, user_agent, ip_address, "
                      "expires_at) VALUES (%s, %s, %s, 'old-device', 'OldBrowser/1.0', '192.0.2.7', now())",
                      (session, tenant, user))

    upgrade(spec().migrations, schema="identity", url=url)

    fields = sensitive()
    with psycopg.connect(infra.admin_database_url(scratch), autocommit=True) as admin:
        users = admin.execute("SELECT email, email_index, display_name FROM identity.users").fetchall()
        invitation = admin.execute("SELECT email, email_index FROM identity.invitations").fetchone()
        change = admin.execute("SELECT new_email FROM identity.email_change_tokens").fetchone()
        client = admin.execute("SELECT device_id, user_agent, ip_address, ip_address_index "
                               "FROM identity.auth_sessions").fetchone()
    assert len(users) == 1 and users[0][0].startswith("v2.") and users[0][2] == "Old Timer"
    assert fields.open("users", {"email": users[0][0]})["email"] == "Old.Timer@Example.com"
    assert bytes(users[0][1]) == fields.email_indexes("old.timer@example.com")[0]
    assert fields.open("invitations", {"email": invitation[0]})["email"] == "guest@example.com"
    assert bytes(invitation[1]) == fields.email_indexes("guest@example.com")[0]
    assert fields.open("email_change_tokens", {"new_email": change[0]})["new_email"] == "new.timer@example.com"
    assert fields.open("auth_sessions", dict(zip(("device_id", "user_agent", "ip_address"), client[:3]))) == {
        "device_id": "old-device", "user_agent": "OldBrowser/1.0", "ip_address": "192.0.2.7"}
    assert bytes(client[3]) == fields.ip_indexes("192.0.2.7")[0]
