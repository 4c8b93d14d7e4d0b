"""AI question generation: a job asked for by a teacher (or queued by automatic generation), its run,
and what each provider request costs. The runner (runner.py) claims queued jobs and hands each to
``run_job``.

Provider requests happen outside any unit of work; each one is measured (runtime/metrics.py:
``cuepoint_ai_*``), logged to ``ai_usage_logs`` and published as it completes, because it was spent
whatever happens next. The questions, the job's outcome, the queue row's removal and
QuestionsGenerated (or GenerationFailed) then commit together: no half-generated job.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cuepoint.contracts import assessment as events
from cuepoint.runtime.auth import CurrentUser
from cuepoint.runtime.errors import Conflict, Invalid, NotFound, TooManyRequests

from cuepoint.runtime.clock import utc_now
from cuepoint.runtime.metrics import observe_ai_request
from cuepoint.runtime.secrets import SecretBox
from cuepoint.runtime.unit_of_work import UnitsOfWork

from ..domain import offline_generator
from ..domain.offline_generator import TimedText
from ..domain.prompting import DEFAULT_PROMPT_TEMPLATE, Prices, validate_types, window_before
from ..domain.questions import with_minted_ids
from ..providers import DraftRequest, Drafts, OfflineProvider, OpenAIProvider, Provider, ProviderError
from ..settings import AssessmentSettings
from ..unit_of_work import AssessmentUnitOfWork
from .access import authored_lesson

log = logging.getLogger(__name__)

ConfigLookup = Callable[[str, uuid.UUID | None], Awaitable[Any]]
REQUEST_TYPE = "QUESTION_GENERATION"
CONNECTION_TEST = "CONNECTION_TEST"



def _seconds_to_next_month() -> int:
    now = utc_now()
    following = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    return max(1, int((following - now).total_seconds()))


def api_key_purpose(configuration_id: uuid.UUID) -> str:
    return f"ai-configuration:{configuration_id}"


def ensure_milestones(milestones: list[Any], transcripts: set[uuid.UUID]) -> None:
    """A job needs milestones, each on a video with a transcript."""
    if not milestones:
        raise Invalid("there are no milestones to generate questions for; add milestones first")
    if missing := sorted({str(m.video_id) for m in milestones} - {str(v) for v in transcripts}):
        raise Invalid(f"these videos have no transcript yet: {', '.join(missing)}; upload one first")


@dataclass(frozen=True)
class RequestGeneration:
    actor: CurrentUser
    lesson_id: uuid.UUID
    video_id: uuid.UUID | None = None
    milestone_ids: list[uuid.UUID] | None = None
    count: int = 3
    types: list[str] | None = None
    configuration_id: uuid.UUID | None = None
    provider: str | None = None


@dataclass(frozen=True)
class RecordUsage:
    tenant_id: uuid.UUID
    actor_id: uuid.UUID | None
    request_type: str
    configuration_id: uuid.UUID | None
    job_id: uuid.UUID | None
    provider: str
    model: str
    prices: Prices
    tokens_in: int
    tokens_out: int
    response_time_ms: int
    error: str | None


async def request_generation(command: RequestGeneration, uow: AssessmentUnitOfWork, *,
                             config: ConfigLookup) -> Any:
    """A teacher's job for the lesson's milestones (of one video, or these ones): the queued job."""
    actor = command.actor
    try:
        chosen_types = validate_types(command.types)
    except ValueError as error:
        raise Invalid(str(error)) from error
    await authored_lesson(uow, actor, command.lesson_id)
    milestones = await uow.milestones.of_lesson(command.lesson_id, video_id=command.video_id,
                                                milestone_ids=command.milestone_ids)
    if command.milestone_ids and (unknown := set(command.milestone_ids) - {m.id for m in milestones}):
        raise Invalid(f"not milestones of this lesson: {sorted(str(u) for u in unknown)}")
    with_transcript = await uow.transcripts.videos_with_one({m.video_id for m in milestones})
    ensure_milestones(milestones, with_transcript)
    configuration, provider, model = await choose_configuration(
        uow, config, actor.tenant_id, configuration_id=command.configuration_id, provider=command.provider)
    if configuration is not None:
        await check_budget(uow, config, actor.tenant_id, Prices(
            Decimal(configuration.input_price_per_1k), Decimal(configuration.output_price_per_1k)))
    job_id = await enqueue(
        uow, tenant_id=actor.tenant_id, lesson_id=command.lesson_id, video_id=command.video_id,
        milestone_ids=[m.id for m in milestones], count=command.count, types=chosen_types, trigger="TEACHER",
        requested_by_id=actor.id, configuration=configuration, provider=provider, model=model)
    return await uow.jobs.get(job_id)


async def choose_configuration(uow: AssessmentUnitOfWork, config: ConfigLookup, tenant_id: uuid.UUID, *,
                               configuration_id: uuid.UUID | None, provider: str | None) -> tuple[Any, str, str]:
    """(configuration row or None for the built-in generator, provider, model) for a new job."""
    if configuration_id is not None:
        row = await uow.configurations.find(configuration_id)
        if row is None:
            raise NotFound(f"no AI configuration {configuration_id}")
        if not row.is_active:
            raise Conflict(f"the AI configuration {row.name!r} is not active")
        return row, row.provider, row.model
    provider = provider or await config("ai.defaultProvider", tenant_id)
    row = await uow.configurations.active(provider)
    if row is not None:
        return row, row.provider, row.model
    if provider == offline_generator.PROVIDER:
        return None, provider, offline_generator.MODEL
    raise Conflict(f"there is no active {provider} configuration; an admin can add one under "
                   "/v1/ai-configurations, or ask for provider OFFLINE")


async def check_budget(uow: AssessmentUnitOfWork, config: ConfigLookup, tenant_id: uuid.UUID, prices: Prices) -> None:
    """Refuse a paid request once this month's spend reached the tenant's budget."""
    if prices.free:
        return
    budget = Decimal(str(await config("ai.monthlyBudgetUsd", tenant_id)))
    spent = await uow.usage.spent_this_month()
    if spent >= budget:
        raise TooManyRequests(f"this organisation's monthly AI budget of ${budget:.2f} is reached "
                              f"(${spent:.2f} spent this month); an admin can raise ai.monthlyBudgetUsd",
                              retry_after=_seconds_to_next_month(), budget_usd=str(budget), spent_usd=str(spent))


async def enqueue(uow: AssessmentUnitOfWork, *, tenant_id: uuid.UUID, lesson_id: uuid.UUID,
                  video_id: uuid.UUID | None, milestone_ids: list[uuid.UUID], count: int, types: list[str],
                  trigger: str, requested_by_id: uuid.UUID | None, configuration: Any, provider: str,
                  model: str) -> uuid.UUID:
    job_id = uuid.uuid4()
    await uow.jobs.add(
        id=job_id, tenant_id=tenant_id, lesson_id=lesson_id, video_id=video_id, milestone_ids=milestone_ids,
        count_per_milestone=count, types=types, configuration_id=configuration.id if configuration else None,
        provider=provider, model=model, trigger=trigger, requested_by_id=requested_by_id, status="QUEUED",
        created_at=utc_now())
    log.info("generation job queued", extra={"job_id": str(job_id), "provider": provider, "trigger": trigger,
                                              "milestones": len(milestone_ids)})
    return job_id


async def record_usage(command: RecordUsage, uow: AssessmentUnitOfWork) -> None:
    """One provider request in ai_usage_logs, announced as AIUsageRecorded in the same transaction."""
    usage_id = uuid.uuid4()
    cost = command.prices.cost(command.tokens_in, command.tokens_out)
    tokens_used = command.tokens_in + command.tokens_out
    await uow.usage.add(
        id=usage_id, tenant_id=command.tenant_id, configuration_id=command.configuration_id, job_id=command.job_id,
        request_type=command.request_type, provider=command.provider, model=command.model,
        tokens_in=command.tokens_in, tokens_out=command.tokens_out, tokens_used=tokens_used, cost=cost,
        response_time=command.response_time_ms, success=command.error is None, error=command.error,
        created_at=utc_now())
    await uow.emit(events.AIUsageRecorded(
        usage_log_id=usage_id, request_type=command.request_type, provider=command.provider, model=command.model,
        tokens_in=command.tokens_in, tokens_out=command.tokens_out, tokens_used=tokens_used, cost=cost,
        response_time=command.response_time_ms, success=command.error is None, error=command.error),
        tenant_id=command.tenant_id, actor_id=command.actor_id)


@dataclass(frozen=True)
class GenerateAutomatically:
    """A video's lesson asks for questions of its own (auto_generate_questions), and a milestone or a
    transcript of the video arrived."""

    tenant_id: uuid.UUID
    lesson_id: uuid.UUID
    video_id: uuid.UUID
    requested_by_id: uuid.UUID | None


async def generate_automatically(command: GenerateAutomatically, uow: Any, *, config: ConfigLookup,
                                 count: int) -> uuid.UUID | None:
    """Questions for the video's milestones that automatic generation has not covered yet, once the video
    has a transcript: milestones and transcripts arrive in either order (they have different keys). The
    queued job, or None. ``uow``: the consumer's (AssessmentUnitOfWork.joining)."""
    await uow.jobs.serialise_auto_generation(command.video_id)
    lesson = await uow.lessons.get(command.lesson_id)
    if lesson is None or not lesson.auto_generate_questions:
        return None
    if not await uow.transcripts.videos_with_one({command.video_id}):
        return None
    milestones = await uow.milestones.uncovered_by_automatic_jobs(command.video_id)
    if not milestones:
        return None
    try:
        configuration, provider, model = await choose_configuration(
            uow, config, command.tenant_id, configuration_id=None, provider=None)
    except Conflict:  # no usable provider: teachers can still ask by hand
        configuration, provider, model = None, offline_generator.PROVIDER, offline_generator.MODEL
    return await enqueue(uow, tenant_id=command.tenant_id, lesson_id=command.lesson_id, video_id=command.video_id,
                         milestone_ids=list(milestones), count=count, types=validate_types(None),
                         trigger="AUTOMATIC", requested_by_id=command.requested_by_id, configuration=configuration,
                         provider=provider, model=model)


# --- running a job ---------------------------------------------------------------------------------


class JobFailed(Exception):
    pass


@dataclass(frozen=True)
class Claimed:
    """A job a runner leased from the queue (its run number counts this one)."""

    job_id: uuid.UUID
    tenant_id: uuid.UUID
    runs: int
    leased_at: datetime


@dataclass(frozen=True)
class Engine:
    """The provider a job uses, with what its requests cost."""

    provider: Provider
    configuration_id: uuid.UUID | None
    prices: Prices


@dataclass(frozen=True)
class JobRun:
    """How a run ended: SUCCEEDED, FAILED (for good), REQUEUED (tried again later) or SKIPPED (the job was
    gone or had ended already)."""

    status: str
    questions: int = 0


Drafted = list[tuple[Any, list[TimedText], Drafts]]  # per milestone: the milestone, its window, its drafts
DraftAll = Callable[[Any, Engine], Awaitable[Drafted]]


async def run_job(claimed: Claimed, units: UnitsOfWork[AssessmentUnitOfWork], *, box: SecretBox,
                  settings: AssessmentSettings, draft_all: DraftAll) -> JobRun:
    """Runs a claimed job to its end: its questions drafted milestone by milestone (``draft_all``, normally
    ``draft_all`` below: each request outside any unit of work, then logged), then stored with the job's
    outcome; a job that cannot succeed fails for good, one that broke unexpectedly goes back to the queue."""
    job_id, tenant_id, runs = claimed.job_id, claimed.tenant_id, claimed.runs
    async with units(tenant_id) as uow:
        job = await uow.jobs.find(job_id)
        if job is not None and job.status not in ("SUCCEEDED", "FAILED"):
            await uow.jobs.start(job_id, runs)
    if job is None or job.status in ("SUCCEEDED", "FAILED"):
        async with units(tenant_id) as uow:
            await uow.jobs.dequeue(job_id)
        return JobRun("SKIPPED")
    started = time.monotonic()
    log.info("generation job started", extra={"job_id": str(job_id), "run": runs, "provider": job.provider})
    try:
        if runs > settings.generation_max_runs:
            last = f"; the last one: {job.error}" if job.error else " (the worker kept stopping)"
            raise JobFailed(f"gave up after {runs - 1} runs that did not finish{last}")
        engine = await _engine(job, units, box=box, settings=settings)
        drafted = await draft_all(job, engine)
    except JobFailed as failure:
        await _fail(job, units, str(failure))
        log.warning("generation job failed", extra={"job_id": str(job_id), "reason": str(failure)})
        return JobRun("FAILED")
    except Exception as error:  # a bug or an outage: said on the job in words, and run again after a pause
        log.exception("generation job run failed", extra={"job_id": str(job_id), "run": runs})
        async with units(job.tenant_id) as uow:
            await uow.jobs.requeue(job.id, reason=f"run {runs} failed unexpectedly ({type(error).__name__}: "
                                                  f"{error}); it will be tried again",
                                   after_seconds=settings.ai_backoff_seconds)
        return JobRun("REQUEUED")
    count = await _succeed(job, engine, drafted, units)
    log.info("generation job succeeded", extra={"job_id": str(job_id), "questions": count,
                                                "seconds": round(time.monotonic() - started, 3)})
    return JobRun("SUCCEEDED", count)


async def _engine(job: Any, units: UnitsOfWork[AssessmentUnitOfWork], *, box: SecretBox,
                  settings: AssessmentSettings) -> Engine:
    if job.configuration_id is None:
        return Engine(OfflineProvider(), None, Prices())
    async with units(job.tenant_id) as uow:
        row = await uow.configurations.find(job.configuration_id)
    if row is None:
        raise JobFailed("its AI configuration was deleted")
    prices = Prices(Decimal(row.input_price_per_1k), Decimal(row.output_price_per_1k))
    if row.provider == offline_generator.PROVIDER:
        return Engine(OfflineProvider(), row.id, prices)
    if not row.api_key_encrypted:
        raise JobFailed(f"the AI configuration {row.name!r} has no API key")
    api_key = box.decrypt(row.api_key_encrypted, purpose=api_key_purpose(row.id)).decode()
    provider = OpenAIProvider(model=row.model, api_key=api_key, base_url=row.base_url,
                              temperature=float(row.temperature), max_tokens=row.max_tokens,
                              prompt_template=row.prompt_template or DEFAULT_PROMPT_TEMPLATE,
                              timeout=settings.ai_timeout_seconds)
    return Engine(provider, row.id, prices)


async def draft_all(job: Any, engine: Engine, units: UnitsOfWork[AssessmentUnitOfWork], *,
                    settings: AssessmentSettings, config: ConfigLookup) -> Drafted:
    """The job's drafts for each of its milestones, from the transcript since the milestone before it."""
    async with units(job.tenant_id) as uow:
        milestones = await uow.milestones.live_among(list(job.milestone_ids))
        video_ids = {m.video_id for m in milestones}
        siblings = await uow.milestones.timestamps(video_ids)
        transcripts = await uow.transcripts.segments(video_ids)
    if not milestones:
        raise JobFailed("none of its milestones exist any more")
    results = []
    for milestone in milestones:
        segments = transcripts.get(milestone.video_id)
        if not segments:
            raise JobFailed(f"the video of milestone {milestone.title!r} has no transcript")
        earlier = [t for v, t in siblings if v == milestone.video_id and t < milestone.timestamp]
        window = window_before([TimedText(s["start"], s["end"], s["text"]) for s in segments],
                               until=milestone.timestamp, since=max(earlier, default=0.0))
        if not window:
            raise JobFailed(f"the transcript has no text before milestone {milestone.title!r}")
        request = DraftRequest(milestone=milestone.title, window=window, count=job.count_per_milestone,
                               types=list(job.types))
        results.append((milestone, window, await _draft_with_retries(job, engine, request, units,
                                                                     settings=settings, config=config)))
    return results


async def _draft_with_retries(job: Any, engine: Engine, request: DraftRequest,
                              units: UnitsOfWork[AssessmentUnitOfWork], *, settings: AssessmentSettings,
                              config: ConfigLookup) -> Drafts:
    tries = settings.ai_request_tries
    for attempt in range(1, tries + 1):
        async with units(job.tenant_id) as uow:
            try:
                await check_budget(uow, config, job.tenant_id, engine.prices)
            except TooManyRequests as error:
                raise JobFailed(str(error)) from error
        started = time.monotonic()
        try:
            try:
                drafts = await engine.provider.draft(request)
            except (ProviderError, asyncio.CancelledError):
                raise
            except Exception as unexpected:  # whatever a provider does, the request is logged and classified
                raise ProviderError(f"the provider's answer could not be used ({type(unexpected).__name__}: "
                                    f"{str(unexpected)[:200]})", retryable=False) from unexpected
        except ProviderError as error:
            await _record_usage(job, engine, started, error.tokens_in, error.tokens_out, units, error=str(error))
            if not error.retryable:
                raise JobFailed(str(error)) from error
            if attempt == tries:
                raise JobFailed(f"{error} (after {tries} tries)") from error
            await asyncio.sleep(backoff(settings, attempt, error.retry_after))
            continue
        await _record_usage(job, engine, started, drafts.tokens_in, drafts.tokens_out, units, error=None)
        return drafts
    raise AssertionError("unreachable")  # pragma: no cover


def backoff(settings: AssessmentSettings, attempt: int, retry_after: float | None) -> float:
    base = settings.ai_backoff_seconds * 2 ** (attempt - 1)
    delay = min(settings.ai_backoff_max_seconds, max(base, retry_after or 0))
    return delay * random.uniform(0.8, 1.2)


async def _record_usage(job: Any, engine: Engine, started: float, tokens_in: int, tokens_out: int,
                        units: UnitsOfWork[AssessmentUnitOfWork], *, error: str | None) -> None:
    # Measured before it is logged: the request was made (and billed) even if the log cannot be written.
    observe_ai_request(provider=engine.provider.name, request_type=REQUEST_TYPE, ok=error is None,
                       tokens_in=tokens_in, tokens_out=tokens_out,
                       cost=float(engine.prices.cost(tokens_in, tokens_out)), seconds=time.monotonic() - started)
    async with units(job.tenant_id) as uow:
        await record_usage(RecordUsage(
            tenant_id=job.tenant_id, actor_id=job.requested_by_id, request_type=REQUEST_TYPE,
            configuration_id=engine.configuration_id, job_id=job.id, provider=engine.provider.name,
            model=engine.provider.model, prices=engine.prices, tokens_in=tokens_in, tokens_out=tokens_out,
            response_time_ms=int((time.monotonic() - started) * 1000), error=error), uow)


async def _succeed(job: Any, engine: Engine, drafted: Drafted, units: UnitsOfWork[AssessmentUnitOfWork]) -> int:
    provider = engine.provider
    created: list[events.GeneratedQuestion] = []
    async with units(job.tenant_id) as uow:
        for milestone, window, drafts in drafted:
            for draft in drafts.questions:
                question_id = uuid.uuid4()
                content = with_minted_ids(draft.content)
                await uow.questions.add(
                    id=question_id, tenant_id=job.tenant_id, lesson_id=job.lesson_id,
                    video_id=milestone.video_id, milestone_id=milestone.id, type=content.type,
                    prompt=draft.prompt, content=content.model_dump(mode="json"),
                    explanation=draft.explanation, points=1, difficulty=draft.difficulty,
                    status="PENDING_REVIEW", source="AI", ai_provider=provider.name, ai_model=provider.model,
                    prompt_version=provider.prompt_version, transcript_start=window[0].start,
                    transcript_end=window[-1].end, generation_job_id=job.id, drawn_for_milestone_id=milestone.id,
                    created_by_id=job.requested_by_id, created_at=utc_now(), updated_at=utc_now())
                created.append(events.GeneratedQuestion(question_id=question_id, milestone_id=milestone.id,
                                                        type=draft.content.type, status="PENDING_REVIEW"))
        await uow.jobs.finish(job.id, status="SUCCEEDED", error=None, question_count=len(created))
        await uow.emit(events.QuestionsGenerated(
            job_id=job.id, lesson_id=job.lesson_id, video_id=job.video_id, provider=provider.name,
            model=provider.model, questions=created), actor_id=job.requested_by_id)
    return len(created)


async def _fail(job: Any, units: UnitsOfWork[AssessmentUnitOfWork], reason: str) -> None:
    async with units(job.tenant_id) as uow:
        await uow.jobs.finish(job.id, status="FAILED", error=reason, question_count=0)
        await uow.emit(events.GenerationFailed(
            job_id=job.id, lesson_id=job.lesson_id, video_id=job.video_id, provider=job.provider,
            model=job.model, reason=reason), actor_id=job.requested_by_id)
