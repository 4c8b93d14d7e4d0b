"""Outbox and inbox: the service's side of reliable event delivery.

Revision ID: 0001
Revises:
"""

from alembic import op

from cuepoint.runtime.migrations import plumbing_v1_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    for statement in plumbing_v1_sql(schema):
        op.execute(statement)
