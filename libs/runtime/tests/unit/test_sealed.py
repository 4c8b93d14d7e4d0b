"""Sealed boxes (cuepoint.runtime.sealed): only the private key opens them, only for their context."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from cuepoint.runtime.sealed import (
    CHUNK_CHARS,
    Unsealable,
    generate_key_pair,
    open_document,
    open_sealed,
    seal,
    seal_document,
)

pytestmark = pytest.mark.unit


def test_the_private_key_opens_what_was_sealed_to_its_public_key() -> None:
    private, public = generate_key_pair()
    sealed = seal(public, b"attempts and grades", context=b"export-1:assessment")
    assert b"attempts" not in sealed
    assert open_sealed(private, sealed, context=b"export-1:assessment") == b"attempts and grades"


def test_each_seal_is_fresh() -> None:
    _, public = generate_key_pair()
    assert seal(public, b"same") != seal(public, b"same")


def test_another_key_does_not_open_it() -> None:
    _, public = generate_key_pair()
    other_private, _ = generate_key_pair()
    with pytest.raises(Unsealable):
        open_sealed(other_private, seal(public, b"secret"))


def test_another_context_does_not_open_it() -> None:
    private, public = generate_key_pair()
    sealed = seal(public, b"secret", context=b"export-1:progress")
    with pytest.raises(Unsealable):
        open_sealed(private, sealed, context=b"export-2:progress")


def test_a_changed_byte_is_refused() -> None:
    private, public = generate_key_pair()
    sealed = bytearray(seal(public, b"secret"))
    sealed[-1] ^= 1
    with pytest.raises(Unsealable):
        open_sealed(private, bytes(sealed))
    with pytest.raises(Unsealable):
        open_sealed(private, b"\x02" + bytes(sealed[1:]))


def test_a_public_key_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError):
        seal(b"short", b"secret")


def test_a_document_round_trips_in_chunks_of_at_most_the_limit() -> None:
    private, public = generate_key_pair()
    student = uuid.uuid4()
    document = {"student_id": student, "at": datetime(2026, 1, 1, tzinfo=UTC), "score": Decimal("1.5"),
                "noise": os.urandom(300_000).hex()}  # incompressible: several chunks
    chunks = seal_document(public, document, context=b"ctx")
    assert len(chunks) > 1 and all(len(chunk) <= CHUNK_CHARS for chunk in chunks)
    opened = open_document(private, chunks, context=b"ctx")
    assert opened == {"student_id": str(student), "at": "2026-01-01T00:00:00Z", "score": "1.5",
                      "noise": document["noise"]}
    with pytest.raises(Unsealable):
        open_document(private, chunks[::-1], context=b"ctx")


def test_a_small_document_is_one_chunk() -> None:
    private, public = generate_key_pair()
    chunks = seal_document(public, {"items": []})
    assert len(chunks) == 1
    assert open_document(private, chunks) == {"items": []}


def test_a_services_part_travels_as_chunked_events_only_its_export_opens() -> None:
    from cuepoint.contracts.privacy import seal_context
    from cuepoint.contracts.progress import ProgressExportPart
    from cuepoint.runtime.sealed import b64, export_parts

    private, public = generate_key_pair()
    export_id, user_id = uuid.uuid4(), uuid.uuid4()
    document = {"sessions": [{"id": uuid.uuid4(), "noise": os.urandom(200_000).hex()}]}
    events = export_parts(ProgressExportPart, export_id=export_id, user_id=user_id, public_key=b64(public),
                          service="progress", document=document)
    assert len(events) > 1 and [e.chunk for e in events] == list(range(len(events)))
    assert {(e.export_id, e.user_id, e.service, e.chunks) for e in events} == {(export_id, user_id, "progress",
                                                                               len(events))}
    opened = open_document(private, [e.sealed for e in events], context=seal_context(export_id, "progress"))
    assert opened["sessions"][0]["noise"] == document["sessions"][0]["noise"]
    with pytest.raises(Unsealable):
        open_document(private, [e.sealed for e in events], context=seal_context(export_id, "analytics"))
