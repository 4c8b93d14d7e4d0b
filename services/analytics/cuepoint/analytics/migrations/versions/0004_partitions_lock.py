"""ensure_event_partitions takes a lock: with the worker deployed as replicas, two of them could
create the same month's partition at once, and one would fail.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from cuepoint.runtime.migrations import TENANT_SETTING

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION ensure_event_partitions(months_ahead integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
DECLARE
    month date := date_trunc('month', now() - interval '1 month');
    created integer := 0;
    name text;
BEGIN
    -- Every worker replica calls this; one at a time, or two would create the same month.
    PERFORM pg_advisory_xact_lock(hashtext('{schema}.ensure_event_partitions'));
    FOR i IN 0..months_ahead + 1 LOOP
        name := 'analytics_events_' || to_char(month, 'YYYY_MM');
        IF to_regclass('{schema}.' || name) IS NULL THEN
            EXECUTE format('CREATE TABLE {schema}.%I PARTITION OF {schema}.analytics_events '
                           'FOR VALUES FROM (%L) TO (%L)', name, month, month + interval '1 month');
            -- A partition is a table of its own: it gets the same tenant isolation.
            EXECUTE format('ALTER TABLE {schema}.%I ENABLE ROW LEVEL SECURITY', name);
            EXECUTE format('ALTER TABLE {schema}.%I FORCE ROW LEVEL SECURITY', name);
            EXECUTE format('CREATE POLICY tenant_isolation ON {schema}.%I USING (tenant_id = {tenant}) '
                           'WITH CHECK (tenant_id = {tenant})', name);
            created := created + 1;
        END IF;
        month := month + interval '1 month';
    END LOOP;
    RETURN created;
END $$;
"""


def upgrade(schema: str) -> None:
    op.execute(FUNCTION.replace("{schema}", f'"{schema}"').replace("{tenant}", TENANT_SETTING.replace("'", "''")))
