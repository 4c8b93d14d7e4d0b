"""The generation queue's depth and age for the runner's metrics (issue 19): every tenant's queue, which
stays under forced row-level security; this SECURITY DEFINER function is the one way to count across it,
and it returns counts and an age per provider only — no job, no tenant.

It runs as the owner, whose policy of 0005 (``claim_across_tenants_select``) lets it read every row; the
runtime role alone may execute it.

A job is waiting while it is due (``available_at`` passed: new, or its runner's lease ran out), running while
a runner holds its lease, deferred while it backs off after a failed run. The oldest waiting age is how long
the longest-waiting due job has been due.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SQL = """
CREATE FUNCTION generation_queue_stats()
RETURNS TABLE (provider text, waiting bigint, running bigint, deferred bigint, oldest_waiting_seconds double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
    SELECT coalesce(nullif(q.provider, ''), 'UNKNOWN'),
           count(*) FILTER (WHERE q.available_at <= now()),
           count(*) FILTER (WHERE q.available_at > now() AND q.leased_at IS NOT NULL),
           count(*) FILTER (WHERE q.available_at > now() AND q.leased_at IS NULL),
           coalesce(extract(epoch FROM now() - min(q.available_at) FILTER (WHERE q.available_at <= now())), 0)::float8
    FROM generation_queue q
    GROUP BY 1 ORDER BY 1
$$;
REVOKE ALL ON FUNCTION generation_queue_stats() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION generation_queue_stats() TO {runtime_role};
"""


def upgrade(schema: str) -> None:
    op.execute(SQL.replace("{schema}", f'"{schema}"').replace("{runtime_role}", f'"cuepoint_{schema}"'))
