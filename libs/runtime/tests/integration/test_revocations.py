"""The revocation list on the real broker: it loads the revocations of the last token lifetime (not
older ones, not other events) and follows new ones as identity publishes them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from cuepoint.contracts import identity as events
from cuepoint.contracts.envelope import new_envelope
from cuepoint.runtime.revocations import KEEP_SECONDS, RevocationList
from tests.support.platform import Infra, eventually
from tests.support.streams import publish_envelopes

pytestmark = pytest.mark.integration


def _revoked(session_id: uuid.UUID, tenant_id: uuid.UUID, *, ago: float = 0):
    return new_envelope(events.SessionsRevoked(user_id=uuid.uuid4(), session_ids=[session_id], reason="logout"),
                        tenant_id=tenant_id, producer="identity",
                        occurred_at=datetime.now(UTC) - timedelta(seconds=ago))


async def test_loads_recent_revocations_and_follows_new_ones(infra: Infra, topics: list[str]) -> None:
    tenant = uuid.uuid4()
    recent, expired, later = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await publish_envelopes(infra, "identity.events", [
        _revoked(expired, tenant, ago=KEEP_SECONDS + 60),  # its tokens have all expired
        new_envelope(events.UserVerified(user_id=recent), tenant_id=tenant, producer="identity"),  # not a revocation
        _revoked(recent, tenant),
    ])
    revocations = RevocationList(infra.bootstrap_servers, topic_prefix=infra.topic_prefix)
    try:
        assert await revocations.revoked(recent)
        assert not await revocations.revoked(expired)
        assert not await revocations.revoked(later)
        await publish_envelopes(infra, "identity.events", [_revoked(later, tenant)])

        async def heard() -> bool:
            return await revocations.revoked(later)

        await eventually(heard, timeout=10, message="a new revocation was not followed")
    finally:
        await revocations.stop()


async def test_without_kafka_at_start_a_token_is_refused_rather_than_trusted() -> None:
    """Until the list has loaded, a revoked session cannot be told from a live one: the check fails
    (503 for the request) instead of letting every token through."""
    from cuepoint.runtime.revocations import RevocationsUnavailable

    revocations = RevocationList("127.0.0.1:1", load_timeout=2)
    try:
        with pytest.raises(RevocationsUnavailable):
            await revocations.revoked(uuid.uuid4())
    finally:
        await revocations.stop()
