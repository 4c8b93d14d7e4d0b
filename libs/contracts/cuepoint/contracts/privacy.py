"""What a person's data export travels in (issue 16): identity asks every service for its part with
``identity.user.export_requested.v1`` (on identity.events), and each service answers on
``privacy.export-parts`` with its part, gzipped JSON sealed to the export's public key
(``cuepoint.runtime.sealed``), cut into chunks. Only identity holds the private key, and deletes it
once the archive is assembled: the copies left in outboxes and on the topic (a day) are then unreadable.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from .envelope import Event

MAX_CHUNK_CHARS = 256 * 1024
"""The largest ``sealed`` field of one part event (base64 characters)."""


class ExportPart(Event):
    """Base of the ``<service>.user.export_part.v1`` events (abstract: no event type of its own)."""

    key_field = "export_id"
    export_id: UUID = Field(description="The export this part belongs to.")
    user_id: UUID = Field(description="The person whose data it is.")
    service: str = Field(description="The service whose part this is.")
    chunk: int = Field(ge=0, description="This chunk's index, from 0.")
    chunks: int = Field(ge=1, description="How many chunks the service's part has.")
    sealed: str = Field(max_length=MAX_CHUNK_CHARS, description="This chunk of the sealed part (urlsafe base64); "
                        "the chunks concatenated, in order, are the sealed gzipped JSON.")


def seal_context(export_id: UUID, service: str) -> bytes:
    """What a service's part is sealed for (the associated data): this export and this service, so that
    a part cannot pass for another export's or another service's."""
    return f"cuepoint.export:{export_id}:{service}".encode()
