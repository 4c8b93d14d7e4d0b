"""Generation on the fake unit of work: asking for a job (who, which milestones, which provider, the
budget), automatic generation, and a job's run to each of its ends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from cuepoint.assessment import orm
from cuepoint.assessment.domain.prompting import DraftedQuestion, Prices
from cuepoint.assessment.domain.questions import TrueFalse
from cuepoint.assessment.providers import Drafts, ProviderError
from cuepoint.assessment.settings import AssessmentSettings
from cuepoint.assessment.use_cases.generation import (
    Claimed,
    Engine,
    GenerateAutomatically,
    JobFailed,
    RequestGeneration,
    draft_all,
    generate_automatically,
    request_generation,
    run_job,
)
from cuepoint.contracts import assessment as events
from cuepoint.runtime.errors import Conflict, Forbidden, Invalid, TooManyRequests
from cuepoint.runtime.secrets import LOCAL_DEVELOPMENT_KEY, SecretBox

from .fakes import TENANT, World, config_lookup, row_of, user

pytestmark = pytest.mark.unit

SETTINGS = AssessmentSettings(ai_backoff_seconds=0, ai_backoff_max_seconds=0, ai_request_tries=3)
BOX = SecretBox(LOCAL_DEVELOPMENT_KEY)
SEGMENTS = [{"start": 0, "end": 8, "text": "Photosynthesis happens inside chloroplasts. Chlorophyll absorbs light."},
            {"start": 8, "end": 16, "text": "Plants combine carbon dioxide and water into glucose and oxygen."}]


def _lesson_with_transcript(world, teacher, *, auto_generate=False):
    lesson = world.lesson(teacher, auto_generate=auto_generate)
    video = uuid.uuid4()
    first, second = world.milestone(lesson, video_id=video, timestamp=8), world.milestone(lesson, video_id=video,
                                                                                          timestamp=16)
    world.transcript(lesson, video, SEGMENTS)
    return lesson, video, [first, second]


async def _request(world, command, config=None):
    units = world.units()
    async with units(TENANT) as uow:
        return await request_generation(command, uow, config=config or config_lookup()), units


async def test_a_teacher_queues_a_job_for_their_lessons_milestones_with_the_built_in_generator():
    world = World()
    teacher = user()
    lesson, _, milestones = _lesson_with_transcript(world, teacher)
    job, units = await _request(world, RequestGeneration(teacher, lesson.id, count=2, types=["TRUE_FALSE"]))
    assert (job.status, job.trigger, job.provider, job.configuration_id) == ("QUEUED", "TEACHER", "OFFLINE", None)
    assert job.milestone_ids == [m.id for m in milestones] and job.types == ["TRUE_FALSE"]
    assert job.id in world.queue and units.emitted == []


async def test_a_job_is_refused_for_others_lessons_unknown_milestones_and_videos_without_a_transcript():
    world = World()
    teacher = user()
    lesson, _, _ = _lesson_with_transcript(world, teacher)
    with pytest.raises(Forbidden):
        await _request(world, RequestGeneration(user(), lesson.id))
    with pytest.raises(Invalid, match="not milestones of this lesson"):
        await _request(world, RequestGeneration(teacher, lesson.id, milestone_ids=[uuid.uuid4()]))
    with pytest.raises(Invalid, match="unknown question types"):
        await _request(world, RequestGeneration(teacher, lesson.id, types=["ESSAY"]))
    bare = world.lesson(teacher)
    world.milestone(bare)
    with pytest.raises(Invalid, match="no transcript"):
        await _request(world, RequestGeneration(teacher, bare.id))
    with pytest.raises(Invalid, match="no milestones"):
        await _request(world, RequestGeneration(teacher, world.lesson(teacher).id))
    assert world.jobs == {}


async def test_openai_needs_an_active_configuration_and_a_budget_left():
    world = World()
    teacher = user()
    lesson, _, _ = _lesson_with_transcript(world, teacher)
    with pytest.raises(Conflict, match="no active OPENAI"):
        await _request(world, RequestGeneration(teacher, lesson.id, provider="OPENAI"))
    inactive = world.configuration(provider="OPENAI", active=False)
    with pytest.raises(Conflict, match="not active"):
        await _request(world, RequestGeneration(teacher, lesson.id, configuration_id=inactive.id))
    paid = world.configuration(provider="OPENAI", input_price_per_1k=Decimal("0.01"))
    world.usage.append(row_of(orm.ai_usage_logs, cost=Decimal(10)))
    with pytest.raises(TooManyRequests):
        await _request(world, RequestGeneration(teacher, lesson.id, provider="OPENAI"))
    job, _ = await _request(world, RequestGeneration(teacher, lesson.id, provider="OPENAI"),
                            config_lookup({"ai.monthlyBudgetUsd": 50}))
    assert (job.configuration_id, job.model) == (paid.id, paid.model)


async def test_automatic_generation_covers_each_milestone_once_and_only_when_asked():
    world = World()
    teacher = user()
    lesson, video, milestones = _lesson_with_transcript(world, teacher, auto_generate=True)
    command = GenerateAutomatically(TENANT, lesson.id, video, teacher.id)
    async with world.units()(TENANT) as uow:
        job_id = await generate_automatically(command, uow, config=config_lookup(), count=2)
        again = await generate_automatically(command, uow, config=config_lookup(), count=2)
    job = world.jobs[job_id]
    assert (job.trigger, job.count_per_milestone, job.milestone_ids) == ("AUTOMATIC", 2, [m.id for m in milestones])
    assert again is None and world.locks == [f"auto-generate:{video}"] * 2
    manual, manual_video, _ = _lesson_with_transcript(world, teacher, auto_generate=False)
    async with world.units()(TENANT) as uow:
        assert await generate_automatically(GenerateAutomatically(TENANT, manual.id, manual_video, None), uow,
                                            config=config_lookup(), count=2) is None


async def test_without_a_usable_provider_automatic_generation_falls_back_to_the_built_in_one():
    world = World()
    teacher = user()
    lesson, video, _ = _lesson_with_transcript(world, teacher, auto_generate=True)
    async with world.units()(TENANT) as uow:
        job_id = await generate_automatically(GenerateAutomatically(TENANT, lesson.id, video, None), uow,
                                              config=config_lookup({"ai.defaultProvider": "OPENAI"}), count=1)
    assert world.jobs[job_id].provider == "OFFLINE"


# --- a job's run ---------------------------------------------------------------------------------------


class ScriptedProvider:
    name, model, prompt_version = "OPENAI", "gpt-test", "v-test"

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.requests = []

    async def draft(self, request):
        self.requests.append(request)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


DRAFTS = Drafts([DraftedQuestion(prompt="Is it?", content=TrueFalse(correct=True))], tokens_in=100, tokens_out=20)


async def _queued(world, teacher, **values):
    lesson, _, _ = _lesson_with_transcript(world, teacher)
    job, _ = await _request(world, RequestGeneration(teacher, lesson.id, count=1, types=["TRUE_FALSE"]))
    world.jobs[job.id].__dict__.update(values)
    return world.jobs[job.id]


def _claim(job, runs=1):
    return Claimed(job.id, job.tenant_id, runs, datetime.now(UTC))


async def test_a_job_that_drafts_stores_its_questions_for_review_and_announces_them():
    world = World()
    teacher = user()
    job = await _queued(world, teacher)
    engine = Engine(ScriptedProvider(DRAFTS), None, Prices())
    units = world.units()

    async def drafting(job_row, built):  # with a scripted provider in place of the built-in one built
        assert built.provider.name == "OFFLINE"
        return await draft_all(job_row, engine, units, settings=SETTINGS, config=config_lookup())

    outcome = await run_job(_claim(job), units, box=BOX, settings=SETTINGS, draft_all=drafting)
    assert (outcome.status, outcome.questions) == ("SUCCEEDED", 2)  # one per milestone
    assert {q.status for q in world.questions.values()} == {"PENDING_REVIEW"}
    assert job.id not in world.queue and world.jobs[job.id].status == "SUCCEEDED"
    usage = [e.event for e in units.emitted if isinstance(e.event, events.AIUsageRecorded)]
    [generated] = [e.event for e in units.emitted if isinstance(e.event, events.QuestionsGenerated)]
    assert len(usage) == 2 and len(generated.questions) == 2


async def test_a_job_that_cannot_succeed_fails_for_good_and_one_that_broke_goes_back_to_the_queue():
    world = World()
    teacher = user()
    job = await _queued(world, teacher)

    async def hopeless(job_row, engine):
        raise JobFailed("the transcript has no text before milestone 'x'")

    units = world.units()
    assert (await run_job(_claim(job), units, box=BOX, settings=SETTINGS, draft_all=hopeless)).status == "FAILED"
    [failed] = [e.event for e in units.emitted]
    assert isinstance(failed, events.GenerationFailed) and "no text" in failed.reason

    other = await _queued(world, teacher)

    async def broken(job_row, engine):
        raise RuntimeError("store unreachable")

    units = world.units()
    assert (await run_job(_claim(other), units, box=BOX, settings=SETTINGS, draft_all=broken)).status == "REQUEUED"
    assert world.jobs[other.id].status == "QUEUED" and "store unreachable" in world.jobs[other.id].error
    assert units.emitted == [] and other.id in world.queue
    last = await run_job(_claim(other, runs=SETTINGS.generation_max_runs + 1), units, box=BOX, settings=SETTINGS,
                         draft_all=broken)
    assert last.status == "FAILED" and "gave up after" in world.jobs[other.id].error


async def test_a_finished_job_claimed_again_is_only_taken_off_the_queue():
    world = World()
    job = await _queued(world, user(), status="SUCCEEDED")

    async def never(job_row, engine):
        raise AssertionError("not run again")

    units = world.units()
    assert (await run_job(_claim(job), units, box=BOX, settings=SETTINGS, draft_all=never)).status == "SKIPPED"
    assert job.id not in world.queue and units.emitted == []


async def test_each_provider_request_is_logged_retried_while_worth_it_and_stopped_by_the_budget():
    world = World()
    job = await _queued(world, user())
    units = world.units()
    flaky = ScriptedProvider(ProviderError("rate limited", retryable=True, retry_after=0), DRAFTS)
    drafted = await draft_all(job, Engine(flaky, None, Prices()), units, settings=SETTINGS, config=config_lookup())
    assert len(drafted) == 2 and len(flaky.requests) == 3  # one retry, then one request for the second milestone
    assert [u.success for u in world.usage] == [False, True, True]

    refused = ScriptedProvider(ProviderError("bad key", retryable=False))
    with pytest.raises(JobFailed, match="bad key"):
        await draft_all(job, Engine(refused, None, Prices()), units, settings=SETTINGS, config=config_lookup())
    assert len(refused.requests) == 1

    paid = Engine(ScriptedProvider(DRAFTS), None, Prices(Decimal(1), Decimal(1)))
    with pytest.raises(JobFailed, match="budget"):
        await draft_all(job, paid, units, settings=SETTINGS, config=config_lookup({"ai.monthlyBudgetUsd": 0}))


def _sample(name, **labels):
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_each_provider_request_is_measured_by_provider_type_and_outcome_with_its_tokens_and_cost():
    world = World()
    job = await _queued(world, user())
    labels = {"provider": "OPENAI", "request_type": "QUESTION_GENERATION"}
    names = {"errors": ("cuepoint_ai_requests_total", {**labels, "outcome": "error"}),
             "successes": ("cuepoint_ai_requests_total", {**labels, "outcome": "success"}),
             "tokens_in": ("cuepoint_ai_tokens_total", {"provider": "OPENAI", "direction": "input"}),
             "tokens_out": ("cuepoint_ai_tokens_total", {"provider": "OPENAI", "direction": "output"}),
             "cost": ("cuepoint_ai_cost_usd_total", {"provider": "OPENAI"}),
             "timed_errors": ("cuepoint_ai_request_duration_seconds_count", {"provider": "OPENAI", "outcome": "error"}),
             "timed_successes": ("cuepoint_ai_request_duration_seconds_count",
                                 {"provider": "OPENAI", "outcome": "success"})}
    before = {key: _sample(name, **values) for key, (name, values) in names.items()}
    # A malformed answer that was billed, retried, then two good drafts (the job has two milestones).
    flaky = ScriptedProvider(ProviderError("bad output", retryable=True, tokens_in=50, tokens_out=5), DRAFTS)
    await draft_all(job, Engine(flaky, None, Prices(Decimal(1), Decimal(2))), world.units(), settings=SETTINGS,
                    config=config_lookup())
    moved = {key: _sample(name, **values) - before[key] for key, (name, values) in names.items()}
    assert moved == pytest.approx({"errors": 1, "successes": 2, "tokens_in": 250, "tokens_out": 45,
                                   "cost": 0.05 + 0.01 + 2 * (0.1 + 0.04), "timed_errors": 1, "timed_successes": 2})
    assert sum(u.cost for u in world.usage) == Decimal("0.340000")  # the same figures as the usage log
