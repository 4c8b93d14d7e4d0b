"""A person's data export (GDPR access, issue 16): requested here, each service's part received
through events, assembled into one archive, downloaded, expired.

identity seals its own part when the export is requested; the others arrive sealed on
privacy.export-parts. The private key that opens them is kept encrypted (identity's SecretBox) only
until the archive is assembled: then it is deleted, with the sealed chunks, so the copies of the parts
left in the services' outboxes and on the topic (a day) can no longer be read by anyone.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from uuid6 import uuid7

from cuepoint.contracts import identity as events
from cuepoint.contracts.privacy import ExportPart
from cuepoint.runtime.auth import CurrentUser
from cuepoint.runtime.sealed import Unsealable, b64, generate_key_pair, open_document, seal_document
from cuepoint.runtime.secrets import SecretBox

from ..domain import exports, users
from ..domain.exports import ASSEMBLING, FAILED, PARTS, READY, DataExport
from ..unit_of_work import IdentityUnitOfWork
from . import now
from .users import identity_part

log = logging.getLogger(__name__)


def key_purpose(export_id: UUID) -> str:
    """The SecretBox purpose of an export's private key (a key cannot be decrypted as another's)."""
    return f"identity.export-key:{export_id}"


def archive_purpose(export_id: UUID) -> str:
    """The SecretBox purpose of an export's assembled archive: everything about the person, so it is kept
    encrypted like the other sensitive fields for the days it waits to be downloaded."""
    return f"identity.export-archive:{export_id}"


def open_archive(stored: str, export_id: UUID, *, box: SecretBox) -> bytes:
    """The ZIP of an archive as stored (encrypted)."""
    return box.decrypt(stored, purpose=archive_purpose(export_id))


@dataclass(frozen=True)
class RequestExport:
    actor: CurrentUser
    user_id: UUID


@dataclass(frozen=True)
class ReceivePart:
    tenant_id: UUID
    part: ExportPart


async def request_export(command: RequestExport, uow: IdentityUnitOfWork, *, box: SecretBox) -> DataExport:
    """A new export of the person's data, assembling: identity's part sealed at once, every other
    service asked for its part."""
    actor, user_id = command.actor, command.user_id
    users.ensure_self_or_admin(actor, user_id)
    user = users.ensure_exists(await uow.users.get(user_id), user_id)
    private_key, public_key = generate_key_pair()
    export_id = uuid7()
    export = DataExport(id=export_id, tenant_id=user.tenant_id, user_id=user_id, requested_by_id=actor.id,
                        status=ASSEMBLING, public_key=public_key,
                        private_key_encrypted=box.encrypt(private_key, purpose=key_purpose(export_id)),
                        services=list(PARTS), requested_at=now(), ready_at=None, expires_at=None)
    await uow.exports.add(export)
    own = asdict(await identity_part(uow, user_id))
    chunks = seal_document(public_key, own, context=exports.context(export_id, "identity"))
    for index, sealed in enumerate(chunks):
        await uow.exports.add_chunk(export_id=export_id, tenant_id=user.tenant_id, service="identity", chunk=index,
                                    chunks=len(chunks), sealed=sealed)
    await uow.emit(events.UserExportRequested(export_id=export_id, user_id=user_id, public_key=b64(public_key)),
                   actor_id=actor.id)
    return export


async def receive_part(command: ReceivePart, uow: IdentityUnitOfWork, *, box: SecretBox,
                       ttl: timedelta) -> str | None:
    """Stores one chunk of a service's part (idempotently); once every part is whole, assembles the
    archive. The export's status after it, or None when the chunk belongs to no export in assembly
    (erased, expired, failed, already assembled: it is dropped)."""
    part = command.part
    export = await uow.exports.get(part.export_id, lock=True)
    if export is None or export.status != ASSEMBLING:
        return None
    if part.user_id != export.user_id or part.service not in export.services or part.service == "identity":
        log.warning("export part refused: not this export's", extra={"export_id": str(part.export_id),
                                                                    "service": part.service[:40]})
        return None
    await uow.exports.add_chunk(export_id=export.id, tenant_id=command.tenant_id, service=part.service,
                                chunk=part.chunk, chunks=part.chunks, sealed=part.sealed)
    if not exports.is_complete(export.services, await uow.exports.chunk_counts(export.id)):
        return ASSEMBLING
    return await _assemble(export, uow, box=box, ttl=ttl)


async def _assemble(export: DataExport, uow: IdentityUnitOfWork, *, box: SecretBox, ttl: timedelta) -> str:
    assert export.private_key_encrypted is not None
    private_key = box.decrypt(export.private_key_encrypted, purpose=key_purpose(export.id))
    chunks = await uow.exports.chunks(export.id)
    parts: dict[str, Any] = {}
    try:
        for service in export.services:
            parts[service] = open_document(private_key, chunks[service], context=exports.context(export.id, service))
    except (Unsealable, OSError, ValueError) as error:  # a part that does not open: the export failed
        log.error("export part does not open", extra={"export_id": str(export.id), "error": repr(error)})
        await uow.exports.finish(export.id, status=FAILED)
        return FAILED
    at = now()
    archive = box.encrypt(exports.archive(export, parts, at), purpose=archive_purpose(export.id))
    await uow.exports.finish(export.id, status=READY, archive=archive, ready_at=at, expires_at=at + ttl)
    await uow.emit(events.UserDataExported(user_id=export.user_id), actor_id=export.requested_by_id,
                   tenant_id=export.tenant_id)
    return READY


async def expire_exports(uow: IdentityUnitOfWork) -> int:
    """The tenant's archives past their expiry deleted, exports whose parts never came failed."""
    return await uow.exports.expire_due(now(), parts_wait=exports.PARTS_WAIT)
