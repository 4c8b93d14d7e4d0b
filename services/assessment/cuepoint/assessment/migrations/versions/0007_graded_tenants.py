"""Which organisations have grades: a platform-wide grading.passingThreshold changes every organisation
without its own value, so the worker must judge their grades again (issue 17). ``grades`` stays under
forced row-level security; this SECURITY DEFINER function is the one way across it, and it returns
tenant ids only.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SQL = """
CREATE POLICY graded_tenants_select ON grades FOR SELECT TO {owner} USING (true);
CREATE FUNCTION graded_tenants() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
    SELECT DISTINCT tenant_id FROM grades ORDER BY tenant_id
$$;
REVOKE ALL ON FUNCTION graded_tenants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION graded_tenants() TO {runtime_role};
"""


def upgrade(schema: str) -> None:
    op.execute(SQL.replace("{schema}", f'"{schema}"').replace("{owner}", f'"cuepoint_{schema}_owner"')
               .replace("{runtime_role}", f'"cuepoint_{schema}"'))
