"""AI configurations on the fake unit of work: one active per provider, keys never announced, changes
announced only when something changed, a connection test logged only when billed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cuepoint.assessment.use_cases.configurations import (
    ConfigurationChanges,
    CreateConfiguration,
    TestConfiguration,
    UpdateConfiguration,
    create_configuration,
    test_configuration as run_connection_test,
    update_configuration,
)
from cuepoint.assessment.use_cases.generation import api_key_purpose
from cuepoint.contracts import assessment as events
from cuepoint.runtime.auth import Role
from cuepoint.runtime.errors import Conflict, Invalid, NotFound
from cuepoint.runtime.secrets import LOCAL_DEVELOPMENT_KEY, SecretBox

from .fakes import TENANT, World, user

pytestmark = pytest.mark.unit

BOX = SecretBox(LOCAL_DEVELOPMENT_KEY)


async def _run(units, use_case, command):
    async with units(TENANT) as uow:
        return await use_case(command, uow, box=BOX)


async def test_an_active_configuration_switches_off_the_providers_other_and_says_so_without_the_key():
    world = World()
    admin = user(Role.ADMIN)
    before = world.configuration(provider="OPENAI", active=True)
    units = world.units()
    row = await _run(units, create_configuration, CreateConfiguration(
        admin, "Main", "OPENAI", "gpt-x", api_key="sk-secret", is_active=True))
    assert BOX.decrypt(row.api_key_encrypted, purpose=api_key_purpose(row.id)) == b"sk-secret"
    assert row.prompt_template  # the built-in one
    assert world.configurations[before.id].is_active is False
    deactivated, created = [e.event for e in units.emitted]
    assert (deactivated.change, deactivated.configuration_id, deactivated.changed_fields) == (
        "DEACTIVATED", before.id, ["is_active"])
    assert (created.change, created.has_api_key, created.api_key_changed) == ("CREATED", True, True)
    assert "sk-secret" not in created.model_dump_json()


async def test_a_name_taken_an_active_openai_without_a_key_and_a_broken_template_are_refused():
    world = World()
    admin = user(Role.ADMIN)
    world.configuration(name="Taken", provider="OFFLINE")
    units = world.units()
    with pytest.raises(Conflict):
        await _run(units, create_configuration, CreateConfiguration(admin, "Taken", "OFFLINE", "m"))
    with pytest.raises(Invalid, match="api_key"):
        await _run(units, create_configuration, CreateConfiguration(admin, "New", "OPENAI", "m", is_active=True))
    with pytest.raises(Invalid):
        await _run(units, create_configuration, CreateConfiguration(admin, "New", "OFFLINE", "m",
                                                                    prompt_template="no placeholders {nope}"))
    assert len(world.configurations) == 1 and units.emitted == []


async def test_an_update_is_announced_with_before_and_after_and_not_when_nothing_changed():
    world = World()
    admin = user(Role.ADMIN)
    row = world.configuration(provider="OFFLINE", active=False, temperature=Decimal("0.2"))
    units = world.units()
    changed = await _run(units, update_configuration, UpdateConfiguration(
        admin, row.id, ConfigurationChanges(temperature=Decimal("0.70"))))
    assert changed.temperature == Decimal("0.70")
    [event] = [e.event for e in units.emitted]
    assert (event.change, event.changed_fields, event.before, event.after) == (
        "UPDATED", ["temperature"], {"temperature": "0.2"}, {"temperature": "0.70"})
    await _run(units, update_configuration, UpdateConfiguration(
        admin, row.id, ConfigurationChanges(temperature=Decimal("0.7"))))
    assert len(units.emitted) == 1


async def test_removing_the_key_of_an_active_openai_configuration_is_refused():
    world = World()
    row = world.configuration(provider="OPENAI", active=True, api_key_encrypted="sealed")
    units = world.units()
    with pytest.raises(Invalid):
        await _run(units, update_configuration, UpdateConfiguration(
            user(Role.ADMIN), row.id, ConfigurationChanges(api_key="")))
    assert world.configurations[row.id].api_key_encrypted == "sealed" and units.emitted == []


async def test_a_connection_test_of_the_built_in_generator_or_without_a_key_costs_nothing():
    world = World()
    admin = user(Role.ADMIN)
    offline, keyless = world.configuration(provider="OFFLINE"), world.configuration(provider="OPENAI")
    units = world.units()
    ok = await run_connection_test(TestConfiguration(admin, offline.id), units, box=BOX, deadline=1)
    refused = await run_connection_test(TestConfiguration(admin, keyless.id), units, box=BOX, deadline=1)
    assert (ok.check.ok, ok.usage_logged) == (True, False)
    assert (refused.check.ok, refused.check.problem, refused.usage_logged) == (False, "NO_API_KEY", False)
    assert world.usage == [] and units.emitted == []
    with pytest.raises(NotFound):
        await run_connection_test(TestConfiguration(admin, world.lesson(admin).id), units, box=BOX, deadline=1)
    assert not any(isinstance(e.event, events.AIUsageRecorded) for e in units.emitted)
