"""audit_heads under forced row-level security like every tenant table; ``verify`` learns which
chains exist through ``audit_chain_tenants``, a SECURITY DEFINER function that returns tenant ids
only (issue 16, finding 10).

Forced RLS applies to the owner too, so the function (which runs as the owner) has a read policy of
its own; the runtime role reads other tenants' heads through nothing but this function.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

from cuepoint.runtime.migrations import tenant_rls_sql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CHAINS = """
CREATE POLICY chains_across_tenants ON audit_heads FOR SELECT TO {owner} USING (true);
CREATE FUNCTION audit_chain_tenants() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
    SELECT tenant_id FROM audit_heads ORDER BY 1
$$;
REVOKE ALL ON FUNCTION audit_chain_tenants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_chain_tenants() TO {runtime_role};
"""


def upgrade(schema: str) -> None:
    for statement in tenant_rls_sql(schema, "audit_heads"):
        op.execute(statement)
    op.execute(CHAINS.replace("{schema}", f'"{schema}"').replace("{owner}", f'"cuepoint_{schema}_owner"')
               .replace("{runtime_role}", f'"cuepoint_{schema}"'))
