"""repositories.py on the real PostgreSQL: what the ingest asks of a tenant's unit of work."""

from __future__ import annotations

import uuid

from cuepoint.analytics.unit_of_work import AnalyticsUnitOfWork
from cuepoint.runtime.unit_of_work import UnitsOfWork


async def test_ownership_finds_the_tenants_lessons_videos_and_questions_and_never_anothers(analytics_context,
                                                                                           admin_connection):
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    lesson, video, question = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    other_lesson, other_video = uuid.uuid4(), uuid.uuid4()
    for tenant, lesson_id, video_id in ((mine, lesson, video), (theirs, other_lesson, other_video)):
        admin_connection.execute("INSERT INTO analytics.lessons (id, tenant_id, title, created_by_id, updated_at) "
                                 "VALUES (%s, %s, 'Owned', %s, now())", (lesson_id, tenant, uuid.uuid4()))
        admin_connection.execute("INSERT INTO analytics.videos (tenant_id, id, lesson_id, updated_at) "
                                 "VALUES (%s, %s, %s, now())", (tenant, video_id, lesson_id))
    admin_connection.execute("INSERT INTO analytics.questions (tenant_id, id, lesson_id) VALUES (%s, %s, %s)",
                             (mine, question, lesson))
    units = UnitsOfWork(analytics_context.sessions, analytics_context.outbox, AnalyticsUnitOfWork)

    async with units(mine) as uow:
        owned = await uow.ownership.owned({"lesson_id": [lesson, other_lesson, lesson], "video_id": [other_video, video],
                                           "question_id": [question, uuid.uuid4()]})
        assert owned == {lesson, video, question}
        assert await uow.ownership.owned({"lesson_id": [], "video_id": []}) == set()
        # An id of one kind is not owned as another.
        assert await uow.ownership.owned({"question_id": [lesson]}) == set()
    async with units(theirs) as uow:
        assert await uow.ownership.owned({"lesson_id": [lesson, other_lesson]}) == {other_lesson}
