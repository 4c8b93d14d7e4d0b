"""orm.py describes the tables as the migrations made them: the same columns, nullability and keys."""

from __future__ import annotations

from cuepoint.analytics.orm import metadata


def test_the_orm_tables_are_the_migrated_tables(admin_connection):
    for table in metadata.sorted_tables:
        columns = admin_connection.execute(
            "SELECT column_name, is_nullable = 'YES' FROM information_schema.columns "
            "WHERE table_schema = 'analytics' AND table_name = %s", (table.name,)).fetchall()
        assert dict(columns) == {c.name: c.nullable for c in table.columns}, table.name
        key = admin_connection.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary",
            (f"analytics.{table.name}",)).fetchall()
        assert {name for (name,) in key} == {c.name for c in table.primary_key}, table.name
