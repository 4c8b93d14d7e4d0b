"""The generation queue under forced row-level security like every tenant table; the worker claims
across tenants only through ``claim_generation_job``, a SECURITY DEFINER function that returns the
one job it leased (issue 16, finding 10).

Forced RLS applies to the table's owner too, so the function (which runs as the owner) is given a
policy of its own: the owner may read and lease any tenant's queue row. The runtime role has no such
policy; it reaches other tenants' rows through this function alone, and only to lease one.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from cuepoint.runtime.migrations import tenant_rls_sql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CLAIM = """
CREATE POLICY claim_across_tenants_select ON generation_queue FOR SELECT TO {owner} USING (true);
CREATE POLICY claim_across_tenants_update ON generation_queue FOR UPDATE TO {owner} USING (true) WITH CHECK (true);
CREATE FUNCTION claim_generation_job(lease_seconds double precision)
RETURNS TABLE (job_id uuid, tenant_id uuid, runs integer)
LANGUAGE sql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
    UPDATE generation_queue q SET available_at = now() + make_interval(secs => lease_seconds), runs = q.runs + 1
    WHERE q.job_id = (SELECT w.job_id FROM generation_queue w WHERE w.available_at <= now()
                      ORDER BY w.available_at FOR UPDATE SKIP LOCKED LIMIT 1)
    RETURNING q.job_id, q.tenant_id, q.runs
$$;
REVOKE ALL ON FUNCTION claim_generation_job(double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION claim_generation_job(double precision) TO {runtime_role};
"""


def upgrade(schema: str) -> None:
    for statement in tenant_rls_sql(schema, "generation_queue"):
        op.execute(statement)
    op.execute(CLAIM.replace("{schema}", f'"{schema}"').replace("{owner}", f'"cuepoint_{schema}_owner"')
               .replace("{runtime_role}", f'"cuepoint_{schema}"'))
