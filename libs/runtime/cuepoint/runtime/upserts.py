"""The write of an order-independent projection: a row that is only ever replaced by newer news.

Events of one thing can arrive out of order (other keys, other partitions, a replay), so a projection
inserts what an event says and, on conflict, overwrites only if the event is at least as new as what
the row holds (its ``updated_at``, or a version). Applied in any order, the events leave the newest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession


def upsert_if_newer_statement(table: Table, values: Mapping[str, Any], *, changes: Mapping[str, Any] | None = None,
                              keys: Iterable[str] | None = None, newer_by: str = "updated_at") -> Any:
    """``INSERT values ON CONFLICT (keys) DO UPDATE SET changes WHERE row.newer_by <= values[newer_by]``.
    ``keys``: the primary key unless named; ``changes``: every value but the keys unless given."""
    key_columns = [table.c[key] for key in keys] if keys is not None else list(table.primary_key.columns)
    key_names = {column.name for column in key_columns}
    update = dict(changes) if changes is not None else {k: v for k, v in values.items() if k not in key_names}
    return insert(table).values(**values).on_conflict_do_update(
        index_elements=key_columns, set_=update, where=table.c[newer_by] <= values[newer_by])


async def upsert_if_newer(session: AsyncSession, table: Table, values: Mapping[str, Any], *,
                          changes: Mapping[str, Any] | None = None, keys: Iterable[str] | None = None,
                          newer_by: str = "updated_at") -> None:
    await session.execute(upsert_if_newer_statement(table, values, changes=changes, keys=keys, newer_by=newer_by))
