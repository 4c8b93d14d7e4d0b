"""Milestones' use cases on the fake unit of work: where a milestone may stand, one per timestamp
of a video, who may change them, what is announced (and nothing when refused)."""

from __future__ import annotations

import pytest

from cuepoint.content.use_cases import milestones
from cuepoint.content.use_cases.milestones import CreateMilestone, DeleteMilestone, UpdateMilestone
from cuepoint.contracts import content as events
from cuepoint.runtime.errors import Conflict, Forbidden, Invalid, NotFound

from .fakes import ADMIN, AUTHOR, OTHER_TEACHER, STUDENT, TENANT, fake_units, lesson, milestone, now, video

pytestmark = pytest.mark.unit


async def run(units, case, command):
    async with units(TENANT) as uow:
        return await case(command, uow)


def one_video(**video_values):
    draft = lesson(has_unpublished_changes=False)
    return draft, video(draft, **video_values)


async def test_a_milestone_is_created_in_the_video_and_the_draft_changes() -> None:
    draft, clip = one_video()
    units = fake_units(draft, clip)
    created = await run(units, milestones.create_milestone, CreateMilestone(AUTHOR, clip.id, 42.5, "Check", False))
    assert (created.video_id, created.timestamp, created.title, created.is_required) == (clip.id, 42.5, "Check",
                                                                                          False)
    assert units.store.lessons[draft.id].has_unpublished_changes
    [announced] = [e.event for e in units.emitted]
    assert announced == events.MilestoneCreated(milestone_id=created.id, video_id=clip.id, lesson_id=draft.id,
                                                timestamp=42.5, title="Check", is_required=False)


@pytest.mark.parametrize(("timestamp", "duration", "why"), [
    (121.0, 120.0, "after its end"), (-1.0, None, "before the start")])
async def test_a_milestone_stands_inside_its_video(timestamp, duration, why) -> None:
    draft, clip = one_video(duration=duration)
    units = fake_units(draft, clip)
    with pytest.raises(Invalid, match=why):
        await run(units, milestones.create_milestone, CreateMilestone(AUTHOR, clip.id, timestamp, "Late"))
    assert units.emitted == [] and units.store.milestones == {}


async def test_a_video_of_unknown_length_takes_a_milestone_anywhere_after_its_start() -> None:
    draft, clip = one_video(duration=None)
    created = await run(fake_units(draft, clip), milestones.create_milestone,
                        CreateMilestone(AUTHOR, clip.id, 5000.0, "Far"))
    assert created.timestamp == 5000.0


async def test_two_milestones_cannot_share_a_timestamp() -> None:
    draft, clip = one_video()
    taken = milestone(clip, timestamp=30.0)
    other = milestone(clip, timestamp=60.0)
    units = fake_units(draft, clip, taken, other)
    with pytest.raises(Conflict, match="already stands at 30.0 s"):
        await run(units, milestones.create_milestone, CreateMilestone(AUTHOR, clip.id, 30.0, "Again"))
    with pytest.raises(Conflict, match="already stands at 30.0 s"):
        await run(units, milestones.update_milestone, UpdateMilestone(AUTHOR, other.id, timestamp=30.0))
    assert units.emitted == [] and units.store.milestones[other.id].timestamp == 60.0


async def test_updating_a_milestone_keeps_what_is_not_sent_and_checks_the_new_timestamp() -> None:
    draft, clip = one_video()
    point = milestone(clip, timestamp=30.0, title="Check", is_required=True)
    units = fake_units(draft, clip, point)
    updated = await run(units, milestones.update_milestone, UpdateMilestone(AUTHOR, point.id, title="Quiz"))
    assert (updated.timestamp, updated.title, updated.is_required) == (30.0, "Quiz", True)
    assert units.emitted[0].event == events.MilestoneUpdated(milestone_id=point.id, video_id=clip.id,
                                                             lesson_id=draft.id, timestamp=30.0, title="Quiz",
                                                             is_required=True)
    with pytest.raises(Invalid):
        await run(units, milestones.update_milestone, UpdateMilestone(AUTHOR, point.id, timestamp=500.0))
    assert len(units.emitted) == 1


async def test_deleting_a_milestone_announces_it() -> None:
    draft, clip = one_video()
    point = milestone(clip)
    units = fake_units(draft, clip, point)
    await run(units, milestones.delete_milestone, DeleteMilestone(ADMIN, point.id))
    assert units.store.milestones == {}
    assert units.emitted[0].event == events.MilestoneDeleted(milestone_id=point.id, video_id=clip.id,
                                                             lesson_id=draft.id)


@pytest.mark.parametrize(("actor", "refusal"), [(OTHER_TEACHER, Forbidden), (STUDENT, NotFound)])
async def test_only_the_author_or_an_admin_changes_milestones(actor, refusal) -> None:
    draft, clip = one_video()
    point = milestone(clip)
    units = fake_units(draft, clip, point)
    for case, command in [(milestones.create_milestone, CreateMilestone(actor, clip.id, 10.0, "x")),
                          (milestones.update_milestone, UpdateMilestone(actor, point.id, title="x")),
                          (milestones.delete_milestone, DeleteMilestone(actor, point.id))]:
        with pytest.raises(refusal):
            await run(units, case, command)
    assert units.emitted == [] and list(units.store.milestones) == [point.id]


async def test_milestones_of_an_archived_lesson_are_frozen() -> None:
    draft = lesson(status="ARCHIVED")
    clip = video(draft)
    point = milestone(clip)
    units = fake_units(draft, clip, point)
    with pytest.raises(Conflict, match="archived"):
        await run(units, milestones.delete_milestone, DeleteMilestone(AUTHOR, point.id))
    assert units.emitted == []


async def test_a_deleted_video_takes_no_milestone() -> None:
    draft, clip = one_video(deleted_at=now())
    with pytest.raises(NotFound):
        await run(fake_units(draft, clip), milestones.create_milestone, CreateMilestone(AUTHOR, clip.id, 1.0, "x"))
