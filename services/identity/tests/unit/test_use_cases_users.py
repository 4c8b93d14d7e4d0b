"""Profiles, roles, status and the GDPR rights on the fake unit of work: who may change whom, the
last admin, and what each change ends and announces."""

from __future__ import annotations

import uuid

import pytest

from cuepoint.contracts import identity as events
from cuepoint.contracts.topics import USER_PROFILES
from cuepoint.identity.use_cases import users
from cuepoint.identity.use_cases.users import ChangeRole, EraseUser, ExportUser, SetUserStatus, UpdateProfile
from cuepoint.runtime.errors import Conflict, NotFound

from .fakes import TENANT, actor, fake_units, user

pytestmark = pytest.mark.unit


async def run(units, case, command):
    async with units(TENANT) as uow:
        return await case(command, uow)


def events_of(units, kind):
    return [e.event for e in units.emitted if isinstance(e.event, kind)]


async def test_a_new_display_name_is_published_as_a_profile() -> None:
    me = user()
    units = fake_units(me)
    updated = await run(units, users.update_profile, UpdateProfile(actor(me), "  Nora N.  "))
    assert updated.display_name == "Nora N."
    assert [(p.user_id, p.display_name) for p in events_of(units, events.UserProfile)] == [(me.id, "Nora N.")]


async def test_a_role_change_ends_the_users_sessions_and_republishes_the_profile() -> None:
    admin, student = user("ADMIN"), user()
    units = fake_units(admin, student)
    session = units.repositories["auth_sessions"].open(student)
    changed = await run(units, users.change_role, ChangeRole(actor(admin), student.id, "teacher"))
    assert changed.role == "TEACHER"
    assert [type(e.event) for e in units.emitted] == [events.UserRoleChanged, events.SessionsRevoked,
                                                      events.UserProfile]
    assert events_of(units, events.SessionsRevoked)[0].session_ids == [session]


async def test_the_same_role_again_changes_and_announces_nothing() -> None:
    admin, teacher = user("ADMIN"), user("TEACHER")
    units = fake_units(admin, teacher)
    assert (await run(units, users.change_role, ChangeRole(actor(admin), teacher.id, "TEACHER"))).role == "TEACHER"
    assert units.emitted == []


async def test_the_last_admin_is_neither_demoted_deactivated_nor_erased() -> None:
    admin = user("ADMIN")
    units = fake_units(admin, user("ADMIN", status="DEACTIVATED"))
    for case, command in ((users.change_role, ChangeRole(actor(admin), admin.id, "TEACHER")),
                          (users.set_user_status, SetUserStatus(actor(admin), admin.id, active=False)),
                          (users.erase_user, EraseUser(actor(admin), admin.id))):
        with pytest.raises(Conflict, match="last admin"):
            await run(units, case, command)
    assert units.emitted == []
    second = user("ADMIN")
    await units.repositories["users"].add(second)
    assert (await run(units, users.change_role, ChangeRole(actor(admin), admin.id, "TEACHER"))).role == "TEACHER"


async def test_deactivating_ends_sessions_and_reactivating_does_not() -> None:
    admin, student = user("ADMIN"), user()
    units = fake_units(admin, student)
    units.repositories["auth_sessions"].open(student)
    off = await run(units, users.set_user_status, SetUserStatus(actor(admin), student.id, active=False))
    assert off.status == "DEACTIVATED"
    await run(units, users.set_user_status, SetUserStatus(actor(admin), student.id, active=False))  # no change
    on = await run(units, users.set_user_status, SetUserStatus(actor(admin), student.id, active=True))
    assert on.status == "ACTIVE"
    assert [type(e.event) for e in units.emitted] == [events.UserDeactivated, events.SessionsRevoked,
                                                      events.UserReactivated]


async def test_an_erased_or_unknown_user_is_not_found() -> None:
    admin, gone = user("ADMIN"), user(status="ERASED")
    units = fake_units(admin, gone)
    for user_id in (gone.id, uuid.uuid4()):
        with pytest.raises(NotFound):
            await run(units, users.change_role, ChangeRole(actor(admin), user_id, "TEACHER"))
        with pytest.raises(NotFound):
            await run(units, users.set_user_status, SetUserStatus(actor(admin), user_id, active=True))
        with pytest.raises(NotFound):
            await run(units, users.erase_user, EraseUser(actor(admin), user_id))


async def test_only_the_user_and_admins_export_or_erase_and_others_are_told_it_does_not_exist() -> None:
    me, teacher = user(), user("TEACHER")
    units = fake_units(me, teacher, user("ADMIN"))
    for case, command in ((users.export_user, ExportUser(actor(teacher), me.id)),
                          (users.erase_user, EraseUser(actor(teacher), me.id))):
        with pytest.raises(NotFound):
            await run(units, case, command)
    assert units.emitted == []


async def test_an_export_holds_everything_but_hashes_and_is_announced() -> None:
    me = user("TEACHER")
    units = fake_units(me)
    units.repositories["auth_sessions"].open(me, ip_address="192.0.2.1")
    units.repositories["invitations"].invite(me, "invitee@school.example", "STUDENT")
    exported = await run(units, users.export_user, ExportUser(actor(me), me.id))
    assert exported.user["email"] == me.email and "password_hash" not in exported.user
    assert exported.sessions[0]["ip_address"] == "192.0.2.1" and exported.preferences is None
    assert exported.invitations_sent[0]["email"] == "invitee@school.example"
    assert "token_hash" not in exported.invitations_sent[0]
    assert events_of(units, events.UserDataExported)[0].user_id == me.id


async def test_erasure_removes_personal_data_and_tombstones_the_profile() -> None:
    me = user(email="me@school.example")
    units = fake_units(me)
    repositories = units.repositories
    repositories["preferences"].rows[me.id] = {"theme": "dark"}
    repositories["verifications"].issue(me)
    session = repositories["auth_sessions"].open(me, ip_address="192.0.2.1")
    invitation_token = repositories["invitations"].invite(user("ADMIN"), "me@school.example")
    await run(units, users.erase_user, EraseUser(actor(me), me.id))
    erased = repositories["users"].rows[me.id]
    assert erased.status == "ERASED" and erased.email == f"erased-{me.id}@erased.invalid"
    assert erased.display_name == "Erased user" and erased.password_hash == "!"
    assert me.id not in repositories["preferences"].rows and repositories["verifications"].rows == {}
    stored = repositories["auth_sessions"].rows[session]
    assert stored.revoked_at is not None and stored.ip_address is None
    assert all(i.email == erased.email for i in repositories["invitations"].rows.values())
    assert invitation_token
    assert [type(e.event) for e in units.emitted] == [events.SessionsRevoked, events.UserErased]
    assert repositories["profile_snapshots"].deleted == [me.id]
    assert units.opened[-1].tombstones == [(USER_PROFILES.name, str(me.id))]
