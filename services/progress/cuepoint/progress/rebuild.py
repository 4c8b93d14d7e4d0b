"""``python -m cuepoint.progress rebuild``: empty the projections and replay every input
topic from offset 0 (runtime.replay), through the same consumers the worker runs; progress's
own events are not emitted again. Stop the worker while this runs.
"""

from __future__ import annotations

import psycopg

from cuepoint.runtime.db import libpq_dsn

from . import orm


def empty_projections(owner_url: str, groups: list[str]) -> None:
    """As the owner: TRUNCATE is not subject to row-level security, so every tenant's rows go."""
    tables = ", ".join(f"progress.{table.name}" for table in orm.PROJECTIONS)
    with psycopg.connect(libpq_dsn(owner_url)) as connection:
        connection.execute(f"TRUNCATE {tables}")
        connection.execute("DELETE FROM progress.inbox WHERE consumer_group = ANY(%s)", (groups,))
