"""The generation queue knows each job's provider and whether a runner holds it, so that the claim can
keep jobs within bounds — per tenant, per provider and in all — and a runner can renew its lease while it
works (issue 17: one slow provider held every tenant's generation; a dead runner's job waited 15 minutes).

``leased_at`` is set by the claim and is the runner's token: a renewal names it, so a runner whose lease ran
out and was taken over cannot extend the new runner's lease. A row is running while ``leased_at`` is set and
its lease (``available_at``) lies ahead.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SQL = """
ALTER TABLE generation_queue ADD COLUMN provider text NOT NULL DEFAULT '',
                             ADD COLUMN leased_at timestamptz;
CREATE INDEX generation_queue_running ON generation_queue (available_at) WHERE leased_at IS NOT NULL;
DROP FUNCTION claim_generation_job(double precision);
CREATE FUNCTION claim_generation_job(lease_seconds double precision, per_tenant integer, per_provider integer,
                                     in_all integer)
RETURNS TABLE (job_id uuid, tenant_id uuid, runs integer, leased_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
BEGIN
    -- One claim at a time (until the claiming transaction commits): the bounds hold across workers.
    PERFORM pg_advisory_xact_lock(hashtextextended('cuepoint.assessment.claim_generation_job', 0));
    RETURN QUERY
    WITH running AS (
        SELECT r.tenant_id, r.provider FROM generation_queue r WHERE r.leased_at IS NOT NULL AND r.available_at > now()
    )
    UPDATE generation_queue q SET available_at = now() + make_interval(secs => lease_seconds), runs = q.runs + 1,
                                  leased_at = clock_timestamp()
    WHERE q.job_id = (
        SELECT w.job_id FROM generation_queue w
        WHERE w.available_at <= now()
          AND (SELECT count(*) FROM running) < in_all
          AND (SELECT count(*) FROM running r WHERE r.tenant_id = w.tenant_id) < per_tenant
          AND (SELECT count(*) FROM running r WHERE r.provider = w.provider) < per_provider
        ORDER BY w.available_at FOR UPDATE SKIP LOCKED LIMIT 1)
    RETURNING q.job_id, q.tenant_id, q.runs, q.leased_at;
END
$$;
REVOKE ALL ON FUNCTION claim_generation_job(double precision, integer, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION claim_generation_job(double precision, integer, integer, integer) TO {runtime_role};
"""


def upgrade(schema: str) -> None:
    op.execute(SQL.replace("{schema}", f'"{schema}"').replace("{runtime_role}", f'"cuepoint_{schema}"'))
