"""Dashboards with 10 million events: p95 of the service's read side vs the raw read-model SQL.

Needs `make infra` and analytics' migrations. Loads (once; later runs reuse it) a tenant of its
own: 10,000,000 rows in analytics_events (monthly partitions, GIN on data) and read models of
the same scale — 200 lessons by 20 teachers, 20,000 students (200,000 progress rows), 2,000
questions with 400,000 results, 1,000 videos with 5-second buckets and 100,000 per-student
bucket rows, a year of daily counts and users, 50,000 AI requests — generated in SQL straight
into the tables (loading through Kafka is what the telemetry benchmark measures). Then, for
each dashboard, in one run:
- baseline: its core SQL through psycopg (one connection, tenant set);
- dashboards: the service's read code (`Dashboards`, as the API calls it: SQLAlchemy, the tenant
  transaction, result shaping).
Prints p50/p95 of both and their ratio; exits 1 if a dashboard's p95 is over 50 ms.

    .venv/bin/python bench/analytics_dashboards.py [--events 10000000] [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import sys
import time
import uuid
from datetime import date, timedelta

import psycopg

from cuepoint.analytics.views import AI_USAGE_SQL, TEACHER_ANALYTICS_SQL, Dashboards
from cuepoint.analytics.settings import AnalyticsSettings
from cuepoint.runtime.auth import CurrentUser, Role
from cuepoint.runtime.db import libpq_dsn
from cuepoint.runtime.service import ServiceContext

import report

BUDGET_P95_MS = 50.0


def ident(kind: str, number: int) -> uuid.UUID:
    """The same ids SQL makes with md5(kind || ':' || n)::uuid."""
    return uuid.UUID(hashlib.md5(f"{kind}:{number}".encode()).hexdigest())


TENANT = ident("bench-tenant", 0)
ID = "md5('{kind}:' || ({expr}))::uuid"


def _id(kind: str, expr: str) -> str:
    return ID.format(kind=kind, expr=expr)


READ_MODELS = [
    f"""INSERT INTO analytics.lessons (id, tenant_id, title, created_by_id, updated_at)
        SELECT {_id('lesson', 'l')}, %(t)s, 'Lesson ' || l, {_id('teacher', 'l % 20')}, now()
        FROM generate_series(0, 199) l""",
    f"""INSERT INTO analytics.student_progress (student_id, lesson_id, tenant_id, completion_percent, average_score,
                                                total_time_spent, status, updated_at)
        SELECT {_id('student', '(l * 100 + s) % 20000')}, {_id('lesson', 'l')}, %(t)s, (s * 7 % 101),
               (s * 13 % 101), s * 37 % 5000, CASE WHEN s % 3 = 0 THEN 'COMPLETED' ELSE 'IN_PROGRESS' END, now()
        FROM generate_series(0, 199) l, generate_series(0, 999) s""",
    f"""INSERT INTO analytics.question_results (student_id, question_id, tenant_id, lesson_id, first_fraction,
                                                first_correct, attempts, best_fraction)
        SELECT {_id('student', '(l * 100 + s) % 20000')}, {_id('question', 'l * 10 + q')}, %(t)s, {_id('lesson', 'l')},
               (s + q) % 5 / 4.0, (s + q) % 5 = 4, 1 + (s % 3), LEAST(1, (s + q) % 5 / 4.0 + 0.25)
        FROM generate_series(0, 199) l, generate_series(0, 9) q, generate_series(0, 199) s""",
    f"""INSERT INTO analytics.option_picks (question_id, option_id, tenant_id, picks)
        SELECT {_id('question', 'q')}, 'o' || o, %(t)s, 50 + q % 50 FROM generate_series(0, 1999) q,
               generate_series(1, 4) o""",
    f"""INSERT INTO analytics.milestones (id, tenant_id, video_id, timestamp, title, updated_at)
        SELECT {_id('milestone', 'v * 3 + m')}, %(t)s, {_id('video', 'v')}, 100.0 * (m + 1), 'M' || m, now()
        FROM generate_series(0, 999) v, generate_series(0, 2) m""",
    f"""INSERT INTO analytics.video_buckets (video_id, bucket, tenant_id, views, rewatches)
        SELECT {_id('video', 'v')}, b, %(t)s, 100 - b / 2, b % 7 FROM generate_series(0, 999) v,
               generate_series(0, 119) b""",
    f"""INSERT INTO analytics.student_video_buckets (student_id, video_id, tenant_id, buckets, furthest)
        SELECT {_id('student', 's')}, {_id('video', 'v')}, %(t)s, ARRAY(SELECT generate_series(0, s % 120)),
               s % 120 FROM generate_series(0, 999) v, generate_series(0, 99) s""",
    """INSERT INTO analytics.daily_counts (tenant_id, day, event_type, events)
        SELECT %(t)s, CURRENT_DATE - d, t, 1000 + d FROM generate_series(0, 364) d,
               unnest(ARRAY['video.heartbeat', 'video.play', 'navigation', 'error']) t""",
    f"""INSERT INTO analytics.daily_users (tenant_id, day, user_id)
        SELECT %(t)s, CURRENT_DATE - d, {_id('student', 'u')} FROM generate_series(0, 364) d,
               generate_series(0, 1999) u""",
    """INSERT INTO analytics.ai_usage_logs (id, tenant_id, request_type, provider, model, tokens_used, cost,
                                            response_time, success, created_at)
        SELECT md5('ai:' || i)::uuid, %(t)s, CASE WHEN i % 4 = 0 THEN 'EXPLANATION' ELSE 'QUESTION_GENERATION' END,
               'OPENAI', 'gpt', 1500, 0.02, 800 + i % 400, i % 20 <> 0, now() - (i % 365) * interval '1 day'
        FROM generate_series(0, 49999) i""",
]
# Which lesson each video belongs to (five a lesson): the engagement dashboard checks the author by it.
# Apart from READ_MODELS so that data loaded before the videos read model existed gets it too.
VIDEOS = f"""INSERT INTO analytics.videos (tenant_id, id, lesson_id, updated_at)
    SELECT %(t)s, {_id('video', 'v')}, {_id('lesson', 'v / 5')}, now() FROM generate_series(0, 999) v
    ON CONFLICT DO NOTHING"""
EVENTS = f"""
INSERT INTO analytics.analytics_events (id, tenant_id, user_id, event_type, category, lesson_id, video_id, device_id,
                                        data, occurred_at)
SELECT md5('event:' || i)::uuid, %(t)s, {_id('student', 'i % 20000')}, 'video.heartbeat', 'playback',
       {_id('lesson', 'i % 200')}, {_id('video', 'i % 1000')}, 'd',
       jsonb_build_object('position', i % 600, 'played', jsonb_build_array(jsonb_build_object(
           'start', i % 600, 'end', i % 600 + 10))),
       date_trunc('month', now()) - interval '1 month' + (i % 3000000) * interval '1 second'
FROM generate_series(%(start)s, %(end)s) i
"""


def load(owner_url: str, events: int) -> None:
    with psycopg.connect(libpq_dsn(owner_url)) as c:
        c.execute("SELECT set_config('app.tenant_id', %s, false)", (str(TENANT),))
        c.execute(VIDEOS, {"t": TENANT})
        c.commit()
        if c.execute("SELECT count(*) FROM analytics.lessons").fetchone()[0] >= 200:
            print("  (reusing the data loaded by an earlier run)", file=sys.stderr)
            return
        started = time.perf_counter()
        for statement in READ_MODELS:
            c.execute(statement.replace(" % ", " %% "), {"t": TENANT})
        c.commit()
        chunk = 1_000_000
        for start in range(0, events, chunk):
            c.execute(EVENTS.replace(" % ", " %% "), {"t": TENANT, "start": start, "end": min(events, start + chunk) - 1})
            c.commit()
            print(f"\r  loaded {min(events, start + chunk):,}/{events:,} events "
                  f"({time.perf_counter() - started:,.0f} s)", end="", file=sys.stderr)
        c.execute("ANALYZE analytics.analytics_events")
        for table in ("student_progress", "question_results", "video_buckets", "student_video_buckets",
                      "daily_users", "daily_counts", "ai_usage_logs"):
            c.execute(f"ANALYZE analytics.{table}")
        c.commit()
        print(file=sys.stderr)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    settings = AnalyticsSettings()
    load(settings.owner_database_url, args.events)

    context = ServiceContext("analytics", settings)
    dashboards = Dashboards(context.sessions)
    teacher = CurrentUser(id=ident("teacher", 3), tenant_id=TENANT, role=Role.TEACHER)
    admin = CurrentUser(id=ident("admin", 0), tenant_id=TENANT, role=Role.ADMIN)
    lesson, video = ident("lesson", 23), ident("video", 117)  # video 117 is lesson 23's, teacher 3's
    today = date.today()
    cases = {
        "lessons (seed teacher query)": (lambda: dashboards.lessons(teacher, None),
                                         TEACHER_ANALYTICS_SQL.replace("$1", "%(teacher)s")),
        "item analysis": (lambda: dashboards.questions(admin, lesson), None),
        "video engagement": (lambda: dashboards.engagement(teacher, video), None),
        "rates, 30 days": (lambda: dashboards.rates(admin, today - timedelta(days=29), today), None),
        "AI usage (seed query)": (lambda: dashboards.ai_usage(admin), AI_USAGE_SQL),
    }
    failed = False
    with psycopg.connect(libpq_dsn(settings.runtime_database_url)) as raw:
        raw.execute("SELECT set_config('app.tenant_id', %s, false)", (str(TENANT),))
        for name, (call, sql) in cases.items():
            await call()  # warm
            service = []
            for _ in range(args.requests):
                started = time.perf_counter()
                await call()
                service.append((time.perf_counter() - started) * 1000)
            line = f"{name:30} service p50 {percentiles(service)[0]:6.2f} ms  p95 {percentiles(service)[1]:6.2f} ms"
            raw_p95 = None
            if sql:
                baseline = []
                for _ in range(args.requests):
                    started = time.perf_counter()
                    raw.execute(sql, {"teacher": teacher.id}).fetchall()
                    baseline.append((time.perf_counter() - started) * 1000)
                raw_p95 = percentiles(baseline)[1]
                line += f"   raw SQL p95 {raw_p95:6.2f} ms  (×{percentiles(service)[1] / max(raw_p95, 1e-3):.1f})"
            print(line)
            ours = percentiles(service)[1]
            report.record(f"dashboard: {name.strip()}", ours=f"p95 {ours:.2f} ms",
                          baseline=f"raw SQL p95 {raw_p95:.2f} ms" if raw_p95 is not None else "—",
                          ratio=f"{ours / max(raw_p95, 1e-3):.1f}×" if raw_p95 is not None else "—",
                          budget=f"p95 ≤ {BUDGET_P95_MS:.0f} ms with {args.events:,} events", met=ours <= BUDGET_P95_MS)
            failed |= percentiles(service)[1] > BUDGET_P95_MS
    await context.close()
    if failed:
        print(f"FAIL: a dashboard's p95 is over {BUDGET_P95_MS:.0f} ms", file=sys.stderr)
        return 1
    print(f"ok: every dashboard's p95 is within {BUDGET_P95_MS:.0f} ms with {args.events:,} events")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
