"""The audit chain's rules: what a hash covers, how an entry follows the head, and what verification finds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cuepoint.analytics.domain.audit import ChainCheck, Link, action, audit_entry, audit_hash, next_link, target

pytestmark = pytest.mark.unit

TENANT = uuid.UUID("00000000-0000-0000-0000-0000000000aa")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Envelope:
    event_type: str
    key: str
    event_id: uuid.UUID
    tenant_id: uuid.UUID = TENANT
    actor_id: uuid.UUID | None = None
    correlation_id: str | None = "c-1"
    occurred_at: datetime = T0


@dataclass(frozen=True)
class Row:
    """An audit_logs row, as verification reads it."""

    tenant_id: uuid.UUID
    seq: int
    event_id: uuid.UUID
    actor_id: uuid.UUID | None
    action: str
    target_type: str
    target_id: str
    correlation_id: str | None
    occurred_at: datetime
    prev_hash: str
    hash: str


def envelope(n: int) -> Envelope:
    return Envelope("content.lesson.created.v1", f"lesson-{n}", uuid.UUID(int=n + 1), actor_id=uuid.UUID(int=99),
                    occurred_at=T0 + timedelta(seconds=n))


def chain(length: int) -> list[Row]:
    rows: list[Row] = []
    head = None
    for n in range(length):
        env = envelope(n)
        entry, link = next_link(head, env)
        rows.append(Row(TENANT, link.seq, env.event_id, env.actor_id, entry["action"], entry["target_type"],
                        entry["target_id"], env.correlation_id, env.occurred_at, link.prev_hash, link.hash))
        head = link
    return rows


def verify(rows: list[Row], head: Link | Row | None = None) -> ChainCheck:
    check = ChainCheck()
    for row in rows:
        check.see(row)
    check.end(head)
    return check


def test_an_event_names_its_action_and_target():
    assert action("identity.user.role_changed.v1") == "identity.user.role_changed"
    assert target("content.lesson.created.v1", "k") == ("lesson", "k")


def test_the_first_entry_starts_the_chain_and_the_next_follows_the_head():
    first, link = next_link(None, envelope(0))
    assert (link.seq, link.prev_hash) == (1, "") and first["seq"] == 1
    assert link.hash == audit_hash("", first)
    second, after = next_link(link, envelope(1))
    assert (after.seq, after.prev_hash) == (2, link.hash) and after.hash == audit_hash(link.hash, second)


def test_the_hash_covers_the_entry_in_one_form_whatever_the_time_zone():
    env = envelope(0)
    elsewhere = replace(env, occurred_at=env.occurred_at.astimezone(timezone(timedelta(hours=5))))
    assert audit_entry(env, 1) == audit_entry(elsewhere, 1)
    assert audit_entry(env, 1)["occurred_at"] == "2026-03-01T12:00:00+00:00"
    assert audit_hash("", audit_entry(env, 1)) != audit_hash("", audit_entry(replace(env, actor_id=None), 1))


@given(st.integers(min_value=0, max_value=12))
def test_an_untouched_chain_is_intact(length: int):
    rows = chain(length)
    check = verify(rows, rows[-1] if rows else None)
    assert check.intact and check.checked == length


@given(st.integers(min_value=1, max_value=10), st.data())
def test_an_altered_entry_breaks_its_hash(length: int, data: st.DataObject):
    rows = chain(length)
    n = data.draw(st.integers(min_value=0, max_value=length - 1))
    rows[n] = replace(rows[n], actor_id=uuid.uuid4())
    check = verify(rows, rows[-1])
    assert not check.intact
    assert {"seq": n + 1, "problem": "altered: its content does not match its hash"} in check.problems


@given(st.integers(min_value=3, max_value=10), st.data())
def test_a_removed_entry_leaves_a_gap(length: int, data: st.DataObject):
    rows = chain(length)
    n = data.draw(st.integers(min_value=1, max_value=length - 2))
    head = rows[-1]
    del rows[n]
    assert verify(rows, head).problems == [{"seq": n + 1, "problem": f"entries {n + 1}–{n + 1} are missing"}]


def test_a_removed_tail_is_found_by_the_head():
    rows = chain(4)
    assert verify(rows[:2], rows[-1]).problems == [
        {"seq": 3, "problem": "entries 3–4 are missing (the end of the log was removed)"}]


def test_an_entry_that_does_not_follow_its_predecessor_is_named():
    rows = chain(3)
    # A second entry rewritten as if it began a chain: its own hash is right, its link is not.
    entry, link = next_link(None, envelope(1))
    forged = replace(rows[1], prev_hash=link.prev_hash, hash=audit_hash("", {**entry, "seq": 2}))
    problems = verify([rows[0], forged, rows[2]], rows[2]).problems
    assert {"seq": 2, "problem": "does not follow the previous entry"} in problems
