"""upsert_if_newer writes the statement order-independent projections need."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text
from sqlalchemy.dialects import postgresql

from cuepoint.runtime.upserts import upsert_if_newer_statement

pytestmark = pytest.mark.unit

THINGS = Table("things", MetaData(), Column("id", Integer, primary_key=True), Column("tenant_id", Integer),
               Column("status", Text), Column("version", Integer), Column("updated_at", DateTime(timezone=True)))


def _sql(statement) -> str:
    import re

    return re.sub(r"::[A-Z ]+?(?=[,) ]|$)", "", " ".join(str(statement.compile(dialect=postgresql.dialect())).split()))


def test_by_default_it_updates_everything_but_the_key_when_the_row_is_not_newer() -> None:
    sql = _sql(upsert_if_newer_statement(THINGS, {"id": 1, "tenant_id": 2, "status": "A", "updated_at": "t"}))
    assert "ON CONFLICT (id) DO UPDATE SET tenant_id = %(param_1)s, status = %(param_2)s, updated_at = %(param_3)s" in sql
    assert sql.endswith("WHERE things.updated_at <= %(updated_at_1)s")


def test_changes_keys_and_the_version_column_can_be_named() -> None:
    sql = _sql(upsert_if_newer_statement(THINGS, {"id": 1, "status": "A", "version": 3}, changes={"status": "A"},
                                         keys=["id"], newer_by="version"))
    assert "DO UPDATE SET status = %(param_1)s WHERE things.version <= %(version_1)s" in sql
