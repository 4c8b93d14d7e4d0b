"""The one clock of the services: use cases, repositories and views read the time here, in UTC;
domain/ rules never read it, they take the time as an argument (so their tests choose it)."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
