"""A person's data export (GDPR, issue 16): identity's part and every other service's, assembled
into one archive the person downloads.

identity asks each service for its part (identity.user.export_requested.v1); each answers, sealed
to the export's public key, in chunks (privacy.export-parts). Once every part is whole, identity
opens them, writes the archive (a ZIP: one JSON file per service and a README) and forgets the
private key. An archive is kept ``ttl`` (a setting, 7 days), then deleted (EXPIRED); an export whose
parts do not all arrive within ``PARTS_WAIT`` (the topic's retention) has FAILED.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from cuepoint.contracts.privacy import seal_context
from cuepoint.runtime.errors import Conflict, Gone

ASSEMBLING = "ASSEMBLING"
READY = "READY"
FAILED = "FAILED"
EXPIRED = "EXPIRED"

PARTS: tuple[str, ...] = ("identity", "content", "assessment", "progress", "analytics")
"""The parts of every export, one per service; the archive holds ``<service>.json`` for each."""
REMOTE_PARTS: tuple[str, ...] = PARTS[1:]
"""The parts the other services send (identity's own is sealed when the export is requested)."""

PARTS_WAIT = timedelta(days=1)
"""How long an export waits for its parts: as long as privacy.export-parts keeps them."""

DESCRIPTIONS = {
    "identity": "your account: profile, role and status, preferences, sign-in sessions (devices, user agents, "
                "addresses) and the invitations you sent",
    "content": "what you authored as a teacher: lessons, their chapters and milestones, and your videos' "
               "metadata (empty if you authored nothing)",
    "assessment": "your answers (attempts) with their grades and any teacher's override of a score",
    "progress": "your viewing sessions (with their devices and user agents), your progress per video and "
                "lesson, and where each video resumes",
    "analytics": "the analytics events recorded about you (telemetry and the audit log's events caused by "
                 "you or about you) and the audit log entries where you are the actor",
}


@dataclass(frozen=True)
class DataExport:
    id: UUID
    tenant_id: UUID
    user_id: UUID
    requested_by_id: UUID
    status: str
    public_key: bytes
    private_key_encrypted: str | None
    services: list[str]
    requested_at: datetime
    ready_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True)
class ChunkCount:
    """What has arrived of one service's part."""

    service: str
    chunks: int
    received: int


def part_states(services: list[str], counts: list[ChunkCount]) -> dict[str, str]:
    """Each service's part: "received" when every chunk of it has arrived, else "waiting"."""
    whole = {count.service for count in counts if count.received >= count.chunks}
    return {service: "received" if service in whole else "waiting" for service in services}


def is_complete(services: list[str], counts: list[ChunkCount]) -> bool:
    return all(state == "received" for state in part_states(services, counts).values())


def parts_of(export: DataExport, counts: list[ChunkCount]) -> dict[str, str]:
    """Each part's state as the person sees it (an assembled export's chunks are gone: all received)."""
    if export.status in (READY, EXPIRED):
        return dict.fromkeys(export.services, "received")
    return part_states(export.services, counts)


def status_at(export: DataExport, at: datetime) -> str:
    """The status as of ``at``: a ready archive past its expiry is expired even before the sweep."""
    if export.status == READY and export.expires_at is not None and export.expires_at <= at:
        return EXPIRED
    if export.status == ASSEMBLING and export.requested_at + PARTS_WAIT <= at:
        return FAILED
    return export.status


def ensure_downloadable(export: DataExport, at: datetime) -> None:
    status = status_at(export, at)
    if status == EXPIRED:
        raise Gone("this export has expired; request a new one")
    if status != READY:
        raise Conflict(f"this export is {status.lower()}, not ready")


def context(export_id: UUID, service: str) -> bytes:
    """What a part is sealed for: this export and this service (a part cannot pass for another)."""
    return seal_context(export_id, service)


def readme(export: DataExport, assembled_at: datetime) -> str:
    lines = [
        "Your Cuepoint data export",
        "",
        f"Export {export.id}, requested {export.requested_at.isoformat()}, assembled {assembled_at.isoformat()}.",
        "Everything each Cuepoint service keeps about you, one JSON file per service:",
        "",
    ]
    lines += [f"  {service}.json: {DESCRIPTIONS[service]}" for service in PARTS]
    lines += ["", "Times are UTC (ISO 8601); ids are UUIDs. Each service wrote its own part and sealed it so that",
              "only this export could open it; the key that opened them is deleted."]
    return "\n".join(lines) + "\n"


def archive(export: DataExport, parts: dict[str, Any], assembled_at: datetime) -> bytes:
    """The ZIP the person downloads: ``<service>.json`` for every part, and README.txt."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive_file:
        for service in PARTS:
            archive_file.writestr(f"{service}.json", json.dumps(parts.get(service, {}), indent=2, ensure_ascii=False))
        archive_file.writestr("README.txt", readme(export, assembled_at))
    return buffer.getvalue()
