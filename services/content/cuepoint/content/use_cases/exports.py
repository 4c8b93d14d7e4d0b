"""content's part of a person's data export (GDPR access, issue 16): what it keeps about them, sealed
to the export's public key and sent to identity in chunks on privacy.export-parts."""

from __future__ import annotations

from dataclasses import dataclass

from cuepoint.contracts.content import ContentExportPart
from cuepoint.contracts.identity import UserExportRequested
from cuepoint.runtime.sealed import export_parts

from ..unit_of_work import ContentUnitOfWork

SERVICE = "content"


@dataclass(frozen=True)
class ExportPersonalData:
    request: UserExportRequested


async def export_personal_data(command: ExportPersonalData, uow: ContentUnitOfWork) -> int:
    """Emits the person's part (every chunk of it); how many chunks."""
    request = command.request
    document = {"service": SERVICE, "user_id": request.user_id, **await uow.personal_data.of(request.user_id)}
    parts = export_parts(ContentExportPart, export_id=request.export_id, user_id=request.user_id,
                         public_key=request.public_key, service=SERVICE, document=document)
    for part in parts:
        await uow.emit(part)
    return len(parts)
