"""Preferences and system configuration on the fake unit of work: partial changes, unsubscribe
links, config keys and values refused, and what each change announces."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cuepoint.contracts import identity as events
from cuepoint.identity.domain import unsubscribe as links
from cuepoint.identity.use_cases import configs, preferences
from cuepoint.identity.use_cases.configs import SetConfig
from cuepoint.identity.use_cases.preferences import Unsubscribe, UpdatePreferences
from cuepoint.runtime.errors import Invalid, NotFound

from .fakes import TENANT, actor, fake_units, user

pytestmark = pytest.mark.unit
KEY = b"k" * 32


async def run(units, case, command):
    async with units(TENANT) as uow:
        return await case(command, uow)


async def test_a_partial_change_merges_and_announces_the_whole_document() -> None:
    me = user()
    units = fake_units(me)
    await run(units, preferences.update_preferences, UpdatePreferences(actor(me), {"theme": "dark"}))
    updated = await run(units, preferences.update_preferences,
                        UpdatePreferences(actor(me), {"learning": {"daily_goal_minutes": 45}}))
    assert updated.theme == "dark" and updated.learning.daily_goal_minutes == 45
    announced = [e.event for e in units.emitted]
    assert all(isinstance(e, events.PreferencesUpdated) for e in announced) and len(announced) == 2
    assert announced[-1].preferences["theme"] == "dark"


async def test_an_invalid_preference_is_refused_and_nothing_announced() -> None:
    me = user()
    units = fake_units(me)
    with pytest.raises(ValidationError):
        await run(units, preferences.update_preferences, UpdatePreferences(actor(me), {"theme": "pink"}))
    assert units.emitted == [] and units.repositories["preferences"].rows == {}


async def test_an_unsubscribe_link_turns_off_its_one_notification() -> None:
    me = user("TEACHER")
    units = fake_units(me)
    token = links.sign(KEY, links.Unsubscription(TENANT, me.id, "email_grades"))
    assert await preferences.unsubscribe(Unsubscribe(token), units, key=KEY) == "email_grades"
    stored = units.repositories["preferences"].rows[me.id]["notifications"]
    assert stored["email_grades"] is False and stored["email_new_lesson"] is True
    assert units.emitted[0].actor_id == me.id


async def test_an_unsubscribe_link_of_another_key_or_of_an_erased_user_is_refused() -> None:
    gone = user(status="ERASED")
    units = fake_units(gone)
    with pytest.raises(Invalid):
        await preferences.unsubscribe(Unsubscribe(links.sign(b"x" * 32, links.Unsubscription(TENANT, gone.id,
                                                                                               "email_grades"))),
                                      units, key=KEY)
    with pytest.raises(NotFound):
        await preferences.unsubscribe(Unsubscribe(links.sign(KEY, links.Unsubscription(TENANT, gone.id,
                                                                                         "email_grades"))),
                                      units, key=KEY)
    assert units.emitted == []


async def test_a_tenant_value_is_stored_announced_and_removed_back_to_the_default() -> None:
    admin = user("ADMIN")
    units = fake_units(admin)
    await run(units, configs.set_config, SetConfig(actor(admin), "identity.requireEmailVerification", False))
    assert units.repositories["configs"].tenant == {"identity.requireEmailVerification": False}
    await run(units, configs.set_config, SetConfig(actor(admin), "identity.requireEmailVerification", None))
    assert units.repositories["configs"].tenant == {}
    changed = [e.event for e in units.emitted]
    assert [(c.config_id, c.value, c.is_default, c.previous_value) for c in changed] == [
        (f"{TENANT}:identity.requireEmailVerification", False, False, None),
        (f"{TENANT}:identity.requireEmailVerification", None, True, False)]
    assert changed[0].scope_tenant_id == TENANT


async def test_a_platform_value_has_no_tenant_scope() -> None:
    admin = user("ADMIN")
    units = fake_units(admin)
    await run(units, configs.set_config, SetConfig(actor(admin), "identity.requireEmailVerification", False,
                                                   platform=True))
    assert units.repositories["configs"].platform == {"identity.requireEmailVerification": False}
    changed = units.emitted[0].event
    assert changed.config_id == "platform:identity.requireEmailVerification" and changed.scope_tenant_id is None


@pytest.mark.parametrize(("key", "value", "error"), [
    ("no.such.key", True, NotFound), ("no.such.key", None, NotFound),
    ("identity.requireEmailVerification", "not a boolean at all", Invalid)])
async def test_an_unknown_key_or_a_wrong_value_is_refused(key, value, error) -> None:
    admin = user("ADMIN")
    units = fake_units(admin)
    with pytest.raises(error):
        await run(units, configs.set_config, SetConfig(actor(admin), key, value))
    assert units.emitted == []
