"""The playback lookup's answers kept in memory (lookup_cache.py), on the real PostgreSQL: what keeps
them from going stale — the tables' triggers, the LISTEN connection, the generation a read started
under — and the lookup route serving from them."""

from __future__ import annotations

import psycopg
import pytest

from cuepoint.content.lookup_cache import APPLICATION_NAME, CHANGED_CHANNEL, LookupCache
from cuepoint.runtime import db
from tests.support.accounts import Accounts
from tests.support.platform import Infra, eventually

from .test_content import _approve_a_question, _lesson, _ready, _upload

LOOKUP_TABLES = ("lessons", "lesson_versions", "videos", "milestones", "questions")
ROWS = [{"id": "m1", "question_count": 1}]


@pytest.fixture
async def cache(content_settings):
    # Listening again 2 s after a broken connection: long enough to see what it does meanwhile.
    kept = LookupCache(db.libpq_dsn(content_settings.runtime_database_url), retry_seconds=2)
    assert kept.get("warm-up") is None  # the first lookup starts its LISTEN connection
    await eventually(lambda: _ready(kept.listening), timeout=10, message="the cache never listened")
    yield kept
    await kept.close()


def test_a_write_to_any_table_a_lookup_reads_notifies(infra: Infra, admin_connection) -> None:
    with psycopg.connect(infra.admin_database_url(), autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANGED_CHANNEL}")
        for table in LOOKUP_TABLES:
            admin_connection.execute(f"UPDATE content.{table} SET tenant_id = tenant_id WHERE false")
            notices = list(listener.notifies(timeout=5, stop_after=1))
            assert [n.channel for n in notices] == [CHANGED_CHANNEL], f"a write to {table} went unannounced"
        admin_connection.execute("UPDATE content.transcripts SET tenant_id = tenant_id WHERE false")
        assert list(listener.notifies(timeout=0.5, stop_after=1)) == [], "transcripts are not in a lookup"


async def test_an_answer_is_kept_until_a_commit_elsewhere_changes_its_tables(cache, admin_connection) -> None:
    cache.put("video", ROWS, cache.generation)
    assert cache.get("video") == ROWS
    admin_connection.execute("UPDATE content.milestones SET tenant_id = tenant_id WHERE false")
    await eventually(lambda: _ready(cache.get("video") is None), timeout=10,
                     message="a commit to milestones left the kept answer in place")


async def test_an_answer_read_before_a_change_is_not_kept(cache, admin_connection) -> None:
    before = cache.generation  # a lookup starts reading ...
    admin_connection.execute("UPDATE content.questions SET tenant_id = tenant_id WHERE false")
    await eventually(lambda: _ready(cache.generation != before), timeout=10, message="no notice arrived")
    cache.put("video", ROWS, before)  # ... and finishes after the change: its answer may be the old one
    assert cache.get("video") is None


async def test_nothing_is_kept_while_not_listening(cache, admin_connection) -> None:
    cache.put("video", ROWS, cache.generation)
    admin_connection.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                             (APPLICATION_NAME,))
    await eventually(lambda: _ready(not cache.listening), timeout=1.5, interval=0.02,
                     message="the broken connection went unseen")
    assert cache.get("video") is None
    cache.put("video", ROWS, cache.generation)  # a change now would go unseen: nothing may be kept
    assert cache.get("video") is None
    await eventually(lambda: _ready(cache.listening), timeout=10, message="the cache did not listen again")
    cache.put("video", ROWS, cache.generation)
    assert cache.get("video") == ROWS


def _lookups_read(metrics: str, statement: str) -> float:
    prefix = f'cuepoint_db_statement_duration_seconds_count{{statement="{statement}"}}'
    return sum(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(prefix))


async def test_the_lookup_is_served_from_memory_and_sees_changes(api, accounts: Accounts, admin_connection) -> None:
    teacher, student = await accounts.login("teacher@example.com"), await accounts.login("student@example.com")
    lesson = await _lesson(api, teacher, "Kept lookups")
    session = await _upload(api, teacher, lesson["id"])
    await api.post(f"/v1/videos/{session['video_id']}/complete", headers=teacher)
    first = (await api.post(f"/v1/videos/{session['video_id']}/milestones", headers=teacher,
                            json={"timestamp": 5, "title": "M1"})).json()
    _approve_a_question(admin_connection, first["id"])
    assert (await api.post(f"/v1/lessons/{lesson['id']}/publish", headers=teacher)).status_code == 200
    lookup = f"/v1/videos/{session['video_id']}/milestones"

    async def counts(headers) -> list[tuple[str, int]]:
        response = await api.get(lookup, headers=headers)
        assert response.status_code == 200, response.text
        return [(m["title"], m["question_count"]) for m in response.json()]

    assert await counts(student) == [("M1", 1)]  # starts the cache's LISTEN connection
    await eventually(lambda: _ready(APPLICATION_NAME in [r[0] for r in admin_connection.execute(
        "SELECT application_name FROM pg_stat_activity WHERE query ILIKE 'LISTEN%'")]), timeout=10)
    assert await counts(student) == [("M1", 1)]
    read = _lookups_read((await api.get("/metrics")).text, "published_milestone_lookup")
    for _ in range(5):
        assert await counts(student) == [("M1", 1)]
    assert _lookups_read((await api.get("/metrics")).text, "published_milestone_lookup") == read, \
        "a kept answer went to the database"

    # Assessment's approval, as content's worker projects it: another process, another connection.
    _approve_a_question(admin_connection, first["id"])

    async def two_approved() -> bool:
        return await counts(student) == [("M1", 2)]
    await eventually(two_approved, timeout=10, message="the student's lookup kept the old count")

    # The teacher's own edit through this API is in the very next lookup (no wait for the notice).
    assert await counts(teacher) == [("M1", 2)]
    added = await api.post(lookup, headers=teacher, json={"timestamp": 9, "title": "M2"})
    assert added.status_code == 201
    assert await counts(teacher) == [("M1", 2), ("M2", 0)]
    assert await counts(student) == [("M1", 2)], "the published version is unchanged by a draft's edit"
