"""What a live stream reads and sends for a burst of notices (live.py `changes`): at most one read per key
per window, the latest state always delivered at the end of a burst, and nothing sent that did not change."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from cuepoint.progress.live import Subscription, changes

pytestmark = pytest.mark.unit

WINDOW = 0.3  # seconds; the bursts below are offered at once, well inside it


class Lessons:
    """The state a stream would read, and how often it was read."""

    def __init__(self) -> None:
        self.state: dict[str, int] = {}
        self.reads = 0

    async def read(self, notice: dict) -> dict:
        self.reads += 1
        return {"lesson_id": notice["lesson_id"], "state": self.state[notice["lesson_id"]]}


def _burst(subscription: Subscription, lessons: Lessons, lesson: str, states: range) -> None:
    for state in states:  # the worker commits a change and notifies, again and again
        lessons.state[lesson] = state
        subscription.offer({"lesson_id": lesson})


async def test_a_burst_of_notices_for_one_lesson_is_read_once_per_window_and_its_latest_state_arrives():
    subscription, lessons = Subscription(lambda n: True), Lessons()
    sent = changes(subscription, key=lambda n: n["lesson_id"], read=lessons.read, interval=WINDOW)
    _burst(subscription, lessons, "a", range(0, 50))
    assert (await asyncio.wait_for(anext(sent), 5))["state"] == 49
    _burst(subscription, lessons, "a", range(50, 100))  # inside the window after that read
    assert (await asyncio.wait_for(anext(sent), 5))["state"] == 99  # held back, not dropped
    assert lessons.reads == 2  # for 100 notices
    await sent.aclose()


async def test_unchanged_state_is_not_sent_again_and_the_next_change_is():
    subscription, lessons = Subscription(lambda n: True), Lessons()
    sent = changes(subscription, key=lambda n: n["lesson_id"], read=lessons.read, interval=0)
    _burst(subscription, lessons, "a", range(1, 2))
    assert (await asyncio.wait_for(anext(sent), 5))["state"] == 1
    subscription.offer({"lesson_id": "a"})  # notified, but what it shows is the same
    waiting = asyncio.ensure_future(anext(sent))
    await asyncio.sleep(0.05)
    assert not waiting.done() and lessons.reads == 2
    _burst(subscription, lessons, "a", range(2, 3))
    assert (await asyncio.wait_for(waiting, 5))["state"] == 2
    await sent.aclose()


async def test_each_lesson_has_its_own_window_and_what_was_sent_already_counts_as_seen():
    subscription, lessons = Subscription(lambda n: True), Lessons()
    lessons.state.update(a=1, b=1)
    sent = changes(subscription, key=lambda n: n["lesson_id"], read=lessons.read, interval=WINDOW,
                   already_sent={"a": {"lesson_id": "a", "state": 1}})  # the snapshot showed a as it is
    _burst(subscription, lessons, "a", range(1, 2))
    _burst(subscription, lessons, "b", range(5, 10))
    assert (await asyncio.wait_for(anext(sent), 5)) == {"lesson_id": "b", "state": 9}
    _burst(subscription, lessons, "a", range(2, 3))
    assert (await asyncio.wait_for(anext(sent), 5)) == {"lesson_id": "a", "state": 2}
    assert lessons.reads == 3
    await sent.aclose()


async def test_what_is_compared_can_leave_out_what_the_client_does_not_show():
    subscription, lessons = Subscription(lambda n: True), Lessons()
    ticks = iter(range(100))

    async def read(notice: dict) -> dict:
        return {**await lessons.read(notice), "updated_at": next(ticks)}

    sent = changes(subscription, key=lambda n: n["lesson_id"], read=read, interval=0,
                   shown=lambda m: {k: v for k, v in m.items() if k != "updated_at"})
    _burst(subscription, lessons, "a", range(1, 2))
    assert (await asyncio.wait_for(anext(sent), 5))["state"] == 1
    subscription.offer({"lesson_id": "a"})  # only the time moved
    waiting = asyncio.ensure_future(anext(sent))
    await asyncio.sleep(0.05)
    assert not waiting.done() and lessons.reads == 2
    _burst(subscription, lessons, "a", range(3, 4))
    assert (await asyncio.wait_for(waiting, 5))["state"] == 3
    await sent.aclose()


async def test_an_answer_graded_is_read_at_once_even_inside_the_window_of_a_playback_burst():
    """Heartbeats are coalesced; a person's act (an answer graded, a grade overridden) is what a teacher
    watches for: its notice (``urgent``) is read at once, not at the end of the window (R5's budget is
    50 ms from the answer's 201 to the teacher's message)."""
    subscription, lessons = Subscription(lambda n: True), Lessons()
    sent = changes(subscription, key=lambda n: n["lesson_id"], read=lessons.read, interval=30)
    _burst(subscription, lessons, "a", range(0, 5))  # playback: read once, then a 30 s window
    assert (await asyncio.wait_for(anext(sent), 5))["state"] == 4
    lessons.state["a"] = 5
    subscription.offer({"lesson_id": "a", "urgent": True})
    assert (await asyncio.wait_for(anext(sent), 1))["state"] == 5, "not held for the window"
    _burst(subscription, lessons, "a", range(6, 8))  # playback again: the window still holds it back
    waiting = asyncio.ensure_future(anext(sent))
    await asyncio.sleep(0.1)
    assert not waiting.done() and lessons.reads == 2
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    await sent.aclose()


async def test_the_streams_one_notice_wakes_share_one_read_and_a_later_notice_reads_again():
    from cuepoint.progress.live import SharedReads

    shared, lessons, release = SharedReads(), Lessons(), asyncio.Event()
    lessons.state["a"] = 1

    async def slow_read(notice: dict) -> dict:
        await release.wait()  # the database's round trip: every stream asks before it answers
        return await lessons.read(notice)

    notice = {"lesson_id": "a"}
    waiting = [asyncio.create_task(shared.read(notice, "a", lambda: slow_read(notice))) for _ in range(9)]
    await asyncio.sleep(0)
    later = {"lesson_id": "a"}  # the next commit's notice: it may announce what the read above missed
    after = asyncio.create_task(shared.read(later, "a", lambda: slow_read(later)))
    await asyncio.sleep(0)
    release.set()
    assert [r["state"] for r in await asyncio.gather(*waiting, after)] == [1] * 10
    assert lessons.reads == 2, "nine streams on one notice read once; the later notice read again"


async def test_a_stream_that_closes_does_not_cancel_the_read_others_wait_for():
    from cuepoint.progress.live import SharedReads

    shared, lessons, release = SharedReads(), Lessons(), asyncio.Event()
    lessons.state["a"] = 7

    async def slow_read(notice: dict) -> dict:
        await release.wait()
        return await lessons.read(notice)

    notice = {"lesson_id": "a"}
    first = asyncio.create_task(shared.read(notice, "a", lambda: slow_read(notice)))
    second = asyncio.create_task(shared.read(notice, "a", lambda: slow_read(notice)))
    await asyncio.sleep(0)
    first.cancel()  # the teacher who asked first closed the tab
    release.set()
    assert (await second)["state"] == 7
    with contextlib.suppress(asyncio.CancelledError):
        await first
    assert lessons.reads == 1
