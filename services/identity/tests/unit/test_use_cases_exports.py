"""A person's data export on the fake unit of work: requested (identity's part sealed, every service
asked), each service's part received in chunks, assembled into the archive, expired, erased."""

from __future__ import annotations

import io
import os
import json
import uuid
import zipfile
from dataclasses import replace
from datetime import timedelta

import pytest

from cuepoint.contracts import identity as events
from cuepoint.contracts.analytics import AnalyticsExportPart
from cuepoint.contracts.assessment import AssessmentExportPart
from cuepoint.contracts.content import ContentExportPart
from cuepoint.contracts.progress import ProgressExportPart
from cuepoint.identity.domain import exports as domain
from cuepoint.identity.use_cases import exports, users
from cuepoint.identity.use_cases.exports import ReceivePart, RequestExport
from cuepoint.runtime.errors import NotFound
from cuepoint.runtime.sealed import generate_key_pair, seal_document, unb64
from cuepoint.runtime.secrets import LOCAL_DEVELOPMENT_KEY, SecretBox

from .fakes import TENANT, actor, fake_units, now, user

pytestmark = pytest.mark.unit

BOX = SecretBox(LOCAL_DEVELOPMENT_KEY)
TTL = timedelta(days=7)
MODELS = {"content": ContentExportPart, "assessment": AssessmentExportPart, "progress": ProgressExportPart,
          "analytics": AnalyticsExportPart}


async def request(units, who, user_id=None):
    async with units(TENANT) as uow:
        return await exports.request_export(RequestExport(actor(who), user_id or who.id), uow, box=BOX)


def asked(units) -> events.UserExportRequested:
    [event] = [e.event for e in units.emitted if isinstance(e.event, events.UserExportRequested)]
    return event


def part_events(export_id, user_id, service, document, public_key, *, chunk_chars=64 * 1024):
    chunks = seal_document(public_key, document, context=domain.context(export_id, service), chunk_chars=chunk_chars)
    return [MODELS[service](export_id=export_id, user_id=user_id, service=service, chunk=i, chunks=len(chunks),
                            sealed=sealed) for i, sealed in enumerate(chunks)]


async def receive(units, part):
    async with units(TENANT) as uow:
        return await exports.receive_part(ReceivePart(TENANT, part), uow, box=BOX, ttl=TTL)


async def test_a_request_seals_identitys_part_and_asks_every_other_service() -> None:
    me = user()
    units = fake_units(me)
    export = await request(units, me)
    assert export.status == "ASSEMBLING" and export.services == list(domain.PARTS)
    event = asked(units)
    assert (event.export_id, event.user_id, unb64(event.public_key)) == (export.id, me.id, export.public_key)
    counts = await units.repositories["exports"].chunk_counts(export.id)
    assert domain.part_states(export.services, counts) == {
        "identity": "received", "content": "waiting", "assessment": "waiting", "progress": "waiting",
        "analytics": "waiting"}
    assert me.email.encode() not in b"".join(s.encode() for _, s in units.repositories["exports"].parts.values())


async def test_nobody_else_but_an_admin_requests_a_persons_export() -> None:
    me, classmate, admin = user(), user(), user("ADMIN")
    units = fake_units(me, classmate, admin)
    with pytest.raises(NotFound):
        await request(units, classmate, me.id)
    assert await request(units, admin, me.id)


async def test_every_part_received_assembles_the_archive_and_forgets_the_key() -> None:
    me, admin = user(), user("ADMIN")
    units = fake_units(me, admin)
    export = await request(units, admin, me.id)
    public_key = export.public_key
    attempt_id = str(uuid.uuid4())
    documents = {"content": {"lessons": []}, "assessment": {"attempts": [{"id": attempt_id}]},
                 "progress": {"sessions": [{"noise": os.urandom(100_000).hex()}]},  # several chunks
                 "analytics": {"events": [], "audit_entries": [{"event_type": "identity.user.sign_in_failed.v1"}]}}
    statuses = []
    for service, document in documents.items():
        parts = part_events(export.id, me.id, service, document, public_key)
        for part in parts:
            statuses.append(await receive(units, part))
        if service == "progress":
            assert len(parts) > 1
            assert await receive(units, parts[0]) == "ASSEMBLING"  # a redelivered chunk changes nothing
    assert statuses[-1] == "READY" and set(statuses[:-1]) == {"ASSEMBLING"}
    repository = units.repositories["exports"]
    done = repository.rows[export.id]
    assert done.status == "READY" and done.private_key_encrypted is None and done.expires_at == done.ready_at + TTL
    assert not repository.parts
    stored = repository.archives[export.id]
    assert not stored.startswith("PK"), "the archive is stored in the clear"
    archive = zipfile.ZipFile(io.BytesIO(exports.open_archive(stored, export.id, box=BOX)))
    assert sorted(archive.namelist()) == ["README.txt", "analytics.json", "assessment.json", "content.json",
                                          "identity.json", "progress.json"]
    assert json.loads(archive.read("assessment.json")) == {"attempts": [{"id": attempt_id}]}
    assert json.loads(archive.read("identity.json"))["user"]["email"] == me.email
    assert "password_hash" not in json.loads(archive.read("identity.json"))["user"]
    assert "progress.json" in archive.read("README.txt").decode()
    [exported] = [e for e in units.emitted if isinstance(e.event, events.UserDataExported)]
    assert (exported.event.user_id, exported.actor_id) == (me.id, admin.id)
    # a late chunk (a replay) of an assembled export is dropped
    assert await receive(units, part_events(export.id, me.id, "content", {}, public_key)[0]) is None


async def test_a_part_that_does_not_open_fails_the_export() -> None:
    me = user()
    units = fake_units(me)
    export = await request(units, me)
    _, other_public = generate_key_pair()
    for service in ("content", "assessment", "progress"):
        for part in part_events(export.id, me.id, service, {}, export.public_key):
            await receive(units, part)
    [forged] = part_events(export.id, me.id, "analytics", {"events": []}, other_public)
    assert await receive(units, forged) == "FAILED"
    failed = units.repositories["exports"].rows[export.id]
    assert failed.status == "FAILED" and failed.private_key_encrypted is None
    assert not any(isinstance(e.event, events.UserDataExported) for e in units.emitted)


async def test_a_part_of_another_person_or_pretending_to_be_identitys_is_refused() -> None:
    me, other = user(), user()
    units = fake_units(me, other)
    export = await request(units, me)
    [wrong_person] = part_events(export.id, other.id, "content", {}, export.public_key)
    assert await receive(units, wrong_person) is None
    identity_part = ContentExportPart(export_id=export.id, user_id=me.id, service="identity", chunk=0, chunks=1,
                                      sealed="x")
    assert await receive(units, identity_part) is None
    assert await receive(units, wrong_person.model_copy(update={"user_id": me.id, "export_id": uuid.uuid4()})) is None
    assert {c.service for c in await units.repositories["exports"].chunk_counts(export.id)} == {"identity"}


async def test_archives_expire_and_unanswered_exports_fail() -> None:
    me = user()
    units = fake_units(me)
    repository = units.repositories["exports"]
    first, second, third = [await request(units, me) for _ in range(3)]
    await repository.finish(first.id, status="READY", archive=b"zip", ready_at=now() - TTL, expires_at=now())
    repository.rows[second.id] = replace(second, requested_at=now() - domain.PARTS_WAIT)
    async with units(TENANT) as uow:
        assert await exports.expire_exports(uow) == 2
    assert [repository.rows[e.id].status for e in (first, second, third)] == ["EXPIRED", "FAILED", "ASSEMBLING"]
    assert first.id not in repository.archives
    assert domain.status_at(replace(third, requested_at=now() - domain.PARTS_WAIT), now()) == "FAILED"


async def test_an_erasure_deletes_the_persons_exports() -> None:
    me = user()
    units = fake_units(me)
    export = await request(units, me)
    async with units(TENANT) as uow:
        await users.erase_user(users.EraseUser(actor(me), me.id), uow)
    assert export.id not in units.repositories["exports"].rows
    assert not units.repositories["exports"].parts
