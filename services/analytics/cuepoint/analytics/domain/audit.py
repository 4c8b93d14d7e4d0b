"""The audit chain: each tenant's entries are numbered from 1, and each entry's hash covers the
previous entry's hash and the entry itself in one canonical form, so a changed entry breaks its
hash and a removed one leaves a gap (or a head that points past the end)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def audit_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(entry)).encode()).hexdigest()


def target(event_type: str, key: str) -> tuple[str, str]:
    """'content.lesson.created.v1' → ('lesson', key)."""
    return event_type.split(".")[1], key


def action(event_type: str) -> str:
    """'content.lesson.created.v1' → 'content.lesson.created'."""
    return event_type.rsplit(".", 1)[0]


def entry(tenant_id: Any, seq: int, event_id: Any, actor_id: Any, action: str, target_type: str, target_id: str,
          correlation_id: str | None, occurred_at: datetime) -> dict[str, Any]:
    """What an audit entry's hash covers, in one canonical form for writing and verifying."""
    return {"tenant_id": str(tenant_id), "seq": seq, "event_id": str(event_id),
            "actor_id": str(actor_id) if actor_id else None, "action": action, "target_type": target_type,
            "target_id": target_id, "correlation_id": correlation_id,
            "occurred_at": occurred_at.astimezone(UTC).isoformat()}


def audit_entry(envelope: Any, seq: int) -> dict[str, Any]:
    """The entry an event (an envelope) makes at position ``seq`` of its tenant's chain."""
    target_type, target_id = target(envelope.event_type, envelope.key)
    return entry(envelope.tenant_id, seq, envelope.event_id, envelope.actor_id, action(envelope.event_type),
                 target_type, target_id, envelope.correlation_id, envelope.occurred_at)


def audit_entry_from_row(row: Any) -> dict[str, Any]:
    """The entry a stored audit_logs row holds (what its hash must cover)."""
    return entry(row.tenant_id, row.seq, row.event_id, row.actor_id, row.action, row.target_type, row.target_id,
                 row.correlation_id, row.occurred_at)


@dataclass(frozen=True)
class Link:
    """The next entry of a chain: its number, the hash it follows, and its own."""

    seq: int
    prev_hash: str
    hash: str


def next_link(head: Any | None, envelope: Any) -> tuple[dict[str, Any], Link]:
    """The entry ``envelope`` appends after ``head`` (the chain's last seq and hash; None: the chain is
    empty), and its link."""
    seq, prev = (head.seq + 1, head.hash) if head else (1, "")
    appended = audit_entry(envelope, seq)
    return appended, Link(seq, prev, audit_hash(prev, appended))


@dataclass
class ChainCheck:
    """Walks a tenant's chain in seq order (``see`` each stored row, then ``end`` with the head) and
    collects what is wrong with it."""

    problems: list[dict[str, Any]] = field(default_factory=list)
    checked: int = 0
    expected_seq: int = 1
    prev: str = ""

    def see(self, row: Any) -> None:
        self.checked += 1
        if row.seq != self.expected_seq:
            self.problems.append({"seq": self.expected_seq,
                                  "problem": f"entries {self.expected_seq}–{row.seq - 1} are missing"})
        elif row.prev_hash != self.prev:
            self.problems.append({"seq": row.seq, "problem": "does not follow the previous entry"})
        if audit_hash(row.prev_hash, audit_entry_from_row(row)) != row.hash:
            self.problems.append({"seq": row.seq, "problem": "altered: its content does not match its hash"})
        self.expected_seq, self.prev = row.seq + 1, row.hash

    def end(self, head: Any | None) -> None:
        """``head``: the chain's recorded last entry (seq), or None."""
        if head is not None and head.seq >= self.expected_seq:
            self.problems.append({"seq": self.expected_seq,
                                  "problem": f"entries {self.expected_seq}–{head.seq} are missing (the end "
                                             "of the log was removed)"})

    @property
    def intact(self) -> bool:
        return not self.problems
