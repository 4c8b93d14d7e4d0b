"""analytics' operations commands (``python -m cuepoint.analytics rebuild|verify|partitions``) and
the partition upkeep the worker runs."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import uuid
from typing import Any

import psycopg

from cuepoint.contracts.topics import CLIENT_EVENTS
from cuepoint.runtime import replay
from cuepoint.runtime.consumer import IdempotentConsumer
from cuepoint.runtime.db import libpq_dsn
from cuepoint.runtime.replay import AlreadyDeadLettered, confirmed
from cuepoint.runtime.service import Command, ServiceContext

from .consumers import input_consumers
from .projections import domain_event
from .views import AuditLog

log = logging.getLogger(__name__)

# Tables a rebuild empties. audit_logs is not among them: it is append-only, and its chain
# records the order events were first seen in.
REBUILT = ("analytics_events", "lessons", "milestones", "student_progress", "ai_usage_logs", "generation_outcomes",
           "question_results", "option_picks", "video_buckets", "student_video_buckets", "daily_counts",
           "daily_users", "daily_active", "lesson_stats", "lesson_days", "ai_usage_monthly", "videos", "questions")


def ensure_partitions(context: ServiceContext, months_ahead: int = 3) -> int:
    with psycopg.connect(libpq_dsn(context.settings.runtime_database_url), autocommit=True) as connection:
        return connection.execute("SELECT ensure_event_partitions(%s)", (months_ahead,)).fetchone()[0]


def keep_partitions_ahead(context: ServiceContext):
    async def partitions(stop: asyncio.Event) -> None:
        """Monthly partitions stay three months ahead of now (a failed round is retried in a minute:
        the months ahead leave time)."""
        while not stop.is_set():
            try:
                created = await asyncio.to_thread(ensure_partitions, context)
                if created:
                    log.info("event partitions created", extra={"created": created})
                wait = 6 * 3600
            except (psycopg.Error, OSError) as error:
                log.warning("could not ensure the event partitions; retrying in a minute",
                            extra={"error": repr(error)})
                wait = 60
            try:
                await asyncio.wait_for(stop.wait(), timeout=wait)
            except TimeoutError:
                pass

    return partitions


def _rebuild(context: ServiceContext, args: argparse.Namespace) -> int:
    refused = confirmed(args.yes, "analytics' projections (not the audit log)")
    return refused if refused is not None else asyncio.run(rebuild(context))


async def rebuild(context: ServiceContext, *, out: Any = sys.stderr) -> int:
    dead = AlreadyDeadLettered()
    topics = input_consumers(context, dead)
    for consumer in topics.values():
        if isinstance(consumer, IdempotentConsumer):  # domain events replay into the read models, not the audit log
            consumer.handlers = dict.fromkeys(consumer.handlers, _without_audit)
    return await replay.rebuild(context, topics, tables=REBUILT, client_topic=CLIENT_EVENTS.name, dead=dead,
                                out=out)


async def _without_audit(session: Any, envelope: Any) -> None:
    await domain_event(session, envelope, audit=False)


def _verify(context: ServiceContext, args: argparse.Namespace) -> int:
    async def run() -> int:
        audit = AuditLog(context.sessions)
        broken = 0
        try:
            for tenant_id in args.tenant or await _tenants(context):
                result = await audit.verify(tenant_id)
                broken += not result["intact"]
                print(json.dumps(result, default=str))
        finally:
            await context.close()
        return 1 if broken else 0

    return asyncio.run(run())


async def _tenants(context: ServiceContext) -> list[uuid.UUID]:
    with psycopg.connect(libpq_dsn(context.settings.runtime_database_url)) as connection:
        # audit_heads is tenant-isolated; this function alone lists every chain (migration 0006).
        return [row[0] for row in connection.execute("SELECT audit_chain_tenants()")]


def _partitions(context: ServiceContext, args: argparse.Namespace) -> int:
    created = ensure_partitions(context, args.ahead)
    print(f"analytics: {created} partition(s) created, {args.ahead} month(s) ahead")
    if args.detach_before:
        with psycopg.connect(libpq_dsn(context.settings.owner_database_url), autocommit=True) as connection:
            for (name,) in connection.execute(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'analytics_events' "
                    "AND c.relname ~ '^analytics_events_[0-9]{4}_[0-9]{2}$' AND c.relname < %s ORDER BY 1",
                    ("analytics_events_" + args.detach_before.replace("-", "_"),)).fetchall():
                connection.execute(f'ALTER TABLE analytics.analytics_events DETACH PARTITION analytics."{name}"')
                print(f"detached {name} (still a table: archive it, then DROP it)")
    return 0


COMMANDS = {
    "rebuild": Command(help="empty the projections (not the audit log) and replay every topic from offset 0",
                       run=_rebuild,
                       arguments=lambda p: p.add_argument("--yes", action="store_true",
                                                          help="do not ask for confirmation")),
    "verify": Command(help="check the audit chains; exit 1 if an entry was altered or removed", run=_verify,
                      arguments=lambda p: p.add_argument("--tenant", type=uuid.UUID, action="append",
                                                         help="only this tenant (repeatable)")),
    "partitions": Command(help="create monthly partitions ahead; optionally detach old ones", run=_partitions,
                          arguments=lambda p: (p.add_argument("--ahead", type=int, default=3),
                                               p.add_argument("--detach-before", metavar="YYYY-MM"))),
}
