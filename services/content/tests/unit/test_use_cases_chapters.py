"""Chapters' use cases on the fake unit of work: placed after the others unless told, changed only
by who may change their lesson."""

from __future__ import annotations

import pytest

from cuepoint.content.use_cases import chapters
from cuepoint.content.use_cases.chapters import CreateChapter, DeleteChapter, UpdateChapter
from cuepoint.contracts import content as events
from cuepoint.runtime.errors import Forbidden

from .fakes import AUTHOR, OTHER_TEACHER, TENANT, fake_units, group, lesson

pytestmark = pytest.mark.unit


async def run(units, case, command):
    async with units(TENANT) as uow:
        return await case(command, uow)


async def test_a_chapter_goes_after_the_others_unless_placed() -> None:
    draft = lesson()
    units = fake_units(draft, group(draft, position=0))
    created = await run(units, chapters.create_chapter, CreateChapter(AUTHOR, draft.id, "Part 2"))
    placed = await run(units, chapters.create_chapter, CreateChapter(AUTHOR, draft.id, "Part 0", position=0))
    assert (created.position, placed.position) == (1, 0)
    assert [type(e.event) for e in units.emitted] == [events.VideoGroupCreated] * 2


async def test_a_chapter_is_renamed_and_deleted_by_who_may_change_its_lesson() -> None:
    draft = lesson()
    part = group(draft, title="Part 1", position=3)
    units = fake_units(draft, part)
    with pytest.raises(Forbidden):
        await run(units, chapters.update_chapter, UpdateChapter(OTHER_TEACHER, part.id, title="Mine"))
    renamed = await run(units, chapters.update_chapter, UpdateChapter(AUTHOR, part.id, title="Basics"))
    assert (renamed.title, renamed.position) == ("Basics", 3)
    await run(units, chapters.delete_chapter, DeleteChapter(AUTHOR, part.id))
    assert units.store.groups == {}
    assert [e.event for e in units.emitted] == [
        events.VideoGroupUpdated(video_group_id=part.id, lesson_id=draft.id, title="Basics", position=3),
        events.VideoGroupDeleted(video_group_id=part.id, lesson_id=draft.id)]
