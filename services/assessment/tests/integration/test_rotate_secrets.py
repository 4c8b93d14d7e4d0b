"""assessment's rotate-secrets: every AI provider API key under the current CUEPOINT_SECRET_KEY, the
previous key still read until then; run again, it changes nothing."""

from __future__ import annotations

import uuid

from pydantic import SecretStr

from cuepoint.assessment.rotation import rotate_api_keys
from cuepoint.assessment.settings import AssessmentSettings
from cuepoint.assessment.use_cases.generation import api_key_purpose
from cuepoint.runtime.secrets import Keyring


async def test_rotate_secrets_reencrypts_every_tenants_api_keys_once(api, accounts, admin_connection,
                                                                     assessment_settings: AssessmentSettings) -> None:
    ids = []
    for _ in range(2):  # two organisations: the command sees past row-level security
        admin = (await accounts.tenant_with_users(f"keys-{uuid.uuid4().hex[:6]}"))["admin"]
        response = await api.post("/v1/ai-configurations", headers=admin, json={
            "name": "rotated", "provider": "OPENAI", "model": "gpt-test", "base_url": "http://127.0.0.1:9",
            "api_key": "sk-rotate-me", "is_active": False})
        assert response.status_code == 201, response.text
        ids.append(uuid.UUID(response.json()["id"]))
    old = assessment_settings.secret_key.get_secret_value()
    new = Keyring.generate_key()
    settings = assessment_settings.model_copy(update={"secret_key": SecretStr(new),
                                                      "previous_secret_keys": SecretStr(old)})
    keyring = Keyring.from_settings(settings)
    try:
        assert rotate_api_keys(settings, keyring, batch_size=1) >= 2
        assert rotate_api_keys(settings, keyring) == 0
        for configuration_id in ids:
            stored = admin_connection.execute("SELECT api_key_encrypted FROM assessment.ai_configurations "
                                              "WHERE id = %s", (configuration_id,)).fetchone()[0]
            assert stored.startswith(keyring.current_prefix)
            assert Keyring(new).decrypt(stored, purpose=api_key_purpose(configuration_id)) == b"sk-rotate-me"
        forced = admin_connection.execute("SELECT relforcerowsecurity FROM pg_class WHERE oid = "
                                          "'assessment.ai_configurations'::regclass").fetchone()[0]
        assert forced, "row-level security is forced again"
    finally:  # back under the key the rest of the run reads with
        back = assessment_settings.model_copy(update={"previous_secret_keys": SecretStr(new)})
        rotate_api_keys(back, Keyring.from_settings(back))
