"""A data export through identity's routes and its consumer of privacy.export-parts, on PostgreSQL:
requested, its parts received (sealed, in chunks), assembled, downloaded; nobody else's to see."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta
import zipfile

import pytest

from cuepoint.contracts.analytics import AnalyticsExportPart
from cuepoint.contracts.assessment import AssessmentExportPart
from cuepoint.contracts.content import ContentExportPart
from cuepoint.contracts.envelope import new_envelope
from cuepoint.contracts.progress import ProgressExportPart
from cuepoint.identity.consumers import export_handlers
from cuepoint.identity.domain.exports import context as part_context
from cuepoint.runtime.db import tenant_transaction
from cuepoint.runtime.sealed import seal_document

from .conftest import bearer, login

pytestmark = pytest.mark.integration

MODELS = {"content": ContentExportPart, "assessment": AssessmentExportPart, "progress": ProgressExportPart,
          "analytics": AnalyticsExportPart}


async def test_an_export_is_assembled_from_every_part_and_downloaded_by_its_person(
        api, context, identity, admin_connection) -> None:
    student = await login(api, "student@example.com")
    created = await api.post("/v1/users/me/exports", headers=bearer(student))
    assert created.status_code == 202, created.text
    export = created.json()
    assert export["status"] == "ASSEMBLING"
    assert export["parts"] == {"identity": "received", "content": "waiting", "assessment": "waiting",
                               "progress": "waiting", "analytics": "waiting"}
    export_id = uuid.UUID(export["id"])
    tenant_id, user_id, public_key, key = admin_connection.execute(
        "SELECT tenant_id, user_id, public_key, private_key_encrypted FROM identity.data_exports WHERE id = %s",
        (export_id,)).fetchone()
    assert key.startswith("v")  # the private key, encrypted at rest
    early = await api.get(f"/v1/users/me/exports/{export_id}/archive", headers=bearer(student))
    assert early.status_code == 409 and early.headers["content-type"] == "application/problem+json"

    handlers = export_handlers(context.outbox, box=identity.keys.box, ttl=timedelta(days=7))
    session_id = str(uuid.uuid4())
    for service, model in MODELS.items():
        document = {"service": service, "sessions": [{"id": session_id}] if service == "progress" else []}
        chunks = seal_document(bytes(public_key), document, context=part_context(export_id, service), chunk_chars=64)
        for index, sealed in enumerate(chunks):
            part = model(export_id=export_id, user_id=user_id, service=service, chunk=index, chunks=len(chunks),
                         sealed=sealed)
            envelope = new_envelope(part, tenant_id=tenant_id, producer=service)
            async with tenant_transaction(context.sessions, tenant_id) as session:
                await handlers[part.event_type](session, envelope)
        if service == "content":
            midway = (await api.get(f"/v1/users/me/exports/{export_id}", headers=bearer(student))).json()
            assert midway["status"] == "ASSEMBLING" and midway["parts"]["content"] == "received"

    ready = (await api.get(f"/v1/users/me/exports/{export_id}", headers=bearer(student))).json()
    assert ready["status"] == "READY" and set(ready["parts"].values()) == {"received"} and ready["expires_at"]
    listed = (await api.get("/v1/users/me/exports", headers=bearer(student))).json()
    assert listed["total"] >= 1 and listed["items"][0]["id"] == str(export_id)
    row = admin_connection.execute(
        "SELECT private_key_encrypted, (SELECT count(*) FROM identity.data_export_parts WHERE export_id = %s) "
        "FROM identity.data_exports WHERE id = %s", (export_id, export_id)).fetchone()
    assert row == (None, 0)  # the key that opens the parts and the sealed chunks are gone
    # The assembled archive (everything about the person) is kept encrypted, like the other sensitive fields.
    [stored] = admin_connection.execute("SELECT archive FROM identity.data_exports WHERE id = %s",
                                        (export_id,)).fetchone()
    assert stored.startswith("v2.") and session_id not in stored, stored[:40]

    download = await api.get(f"/v1/users/me/exports/{export_id}/archive", headers=bearer(student))
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert download.headers["cache-control"] == "no-store"
    assert download.headers["content-disposition"].startswith("attachment")
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    assert json.loads(archive.read("progress.json"))["sessions"] == [{"id": session_id}]
    assert json.loads(archive.read("identity.json"))["user"]["id"] == str(user_id)

    teacher, admin = await login(api, "teacher@example.com"), await login(api, "admin@example.com")
    assert (await api.get(f"/v1/users/me/exports/{export_id}", headers=bearer(teacher))).status_code == 404
    assert (await api.get(f"/v1/users/{user_id}/exports/{export_id}/archive",
                          headers=bearer(teacher))).status_code == 403
    by_admin = await api.get(f"/v1/users/{user_id}/exports/{export_id}/archive", headers=bearer(admin))
    assert by_admin.status_code == 200 and by_admin.content == download.content


async def test_an_admin_requests_an_export_and_an_erasure_deletes_them(api, admin_connection) -> None:
    admin = await login(api, "admin@example.com")
    name = f"Lee Leaving {uuid.uuid4().hex[:8]}"
    registered = await api.post("/v1/auth/register", json={"tenant": "demo", "email": f"{name[-8:]}@example.com",
                                                           "password": "a long enough phrase", "display_name": name})
    assert registered.status_code == 202
    [user_id] = admin_connection.execute("SELECT id FROM identity.users WHERE display_name = %s", (name,)).fetchone()
    created = await api.post(f"/v1/users/{user_id}/exports", headers=bearer(admin))
    assert created.status_code == 202, created.text
    assert (await api.get(f"/v1/users/{user_id}/exports", headers=bearer(admin))).json()["total"] == 1
    assert (await api.post(f"/v1/users/{user_id}/erase", headers=bearer(admin))).status_code == 204
    assert admin_connection.execute("SELECT count(*) FROM identity.data_exports WHERE user_id = %s",
                                    (user_id,)).fetchone() == (0,)
