"""export_personal_data on the fake unit of work: assessment's part of a person's export, sealed to the
export's key, in chunks of at most the limit, holding what the repository found of that person."""

from __future__ import annotations

import os
import uuid

import pytest

from cuepoint.assessment.use_cases.exports import ExportPersonalData, export_personal_data
from cuepoint.contracts.assessment import AssessmentExportPart
from cuepoint.contracts.identity import UserExportRequested
from cuepoint.contracts.privacy import MAX_CHUNK_CHARS, seal_context
from cuepoint.runtime.sealed import b64, generate_key_pair, open_document
from cuepoint.runtime.unit_of_work import FakeUnitsOfWork

pytestmark = pytest.mark.unit

TENANT = uuid.uuid4()


class FakePersonalData:
    def __init__(self, rows: dict[uuid.UUID, dict]) -> None:
        self.rows = rows

    async def of(self, user_id: uuid.UUID) -> dict:
        return self.rows.get(user_id, {"sessions": []})


async def test_the_persons_part_is_sealed_to_the_export_in_chunks() -> None:
    student, classmate = uuid.uuid4(), uuid.uuid4()
    session_id = uuid.uuid4()
    data = FakePersonalData({student: {"sessions": [{"id": session_id, "device_id": "phone",
                                                     "noise": os.urandom(300_000).hex()}]},
                             classmate: {"sessions": [{"id": uuid.uuid4(), "device_id": "tablet"}]}})
    units = FakeUnitsOfWork(personal_data=data)
    private_key, public_key = generate_key_pair()
    request = UserExportRequested(export_id=uuid.uuid4(), user_id=student, public_key=b64(public_key))
    async with units(TENANT) as uow:
        count = await export_personal_data(ExportPersonalData(request), uow)
    parts = [e.event for e in units.emitted]
    assert count == len(parts) > 1 and all(isinstance(p, AssessmentExportPart) for p in parts)
    assert all(len(p.sealed) <= MAX_CHUNK_CHARS and p.export_id == request.export_id for p in parts)
    document = open_document(private_key, [p.sealed for p in parts],
                             context=seal_context(request.export_id, "assessment"))
    assert [s["id"] for s in document["sessions"]] == [str(session_id)]
    assert document["user_id"] == str(student) and "tablet" not in str(document)
