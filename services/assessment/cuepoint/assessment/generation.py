"""AI question generation jobs: queued by a teacher or by TranscriptReady, run by the worker.

A job is claimed from ``generation_queue`` (SKIP LOCKED, with a lease: a worker that dies
mid-job leaves it to be run again). Provider requests happen outside any transaction; each
one is logged to ``ai_usage_logs`` and published as it completes, because it was spent
whatever happens next. The questions, the job's outcome, the queue row's removal and
QuestionsGenerated (or GenerationFailed) then commit together: no half-generated job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cuepoint.contracts import assessment as events
from cuepoint.runtime.db import tenant_transaction
from cuepoint.runtime.errors import Conflict, Invalid, NotFound, TooManyRequests
from cuepoint.runtime.outbox import Outbox
from cuepoint.runtime.secrets import SecretBox

from . import orm
from .domain import offline_generator
from .domain.offline_generator import TimedText
from .domain.prompting import DEFAULT_PROMPT_TEMPLATE, Prices, window_before
from .domain.questions import with_minted_ids
from .providers import DraftRequest, Drafts, OfflineProvider, OpenAIProvider, Provider, ProviderError
from .settings import AssessmentSettings

log = logging.getLogger(__name__)

ConfigLookup = Callable[[str, uuid.UUID], Awaitable[Any]]
REQUEST_TYPE = "QUESTION_GENERATION"

# Leases the oldest due job of any tenant that the bounds allow: the queue is tenant-isolated, this function
# alone reads across tenants (migrations 0005, 0006).
CLAIM = text("SELECT job_id, tenant_id, runs, leased_at "
             "FROM claim_generation_job(:lease, :per_tenant, :per_provider, :in_all)")


def _cancelling() -> bool:
    """Whether the current task itself is being cancelled (not merely a task it awaited)."""
    task = asyncio.current_task()
    return bool(task and task.cancelling())


def _now() -> datetime:
    return datetime.now(UTC)


def _seconds_to_next_month() -> int:
    now = _now()
    following = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    return max(1, int((following - now).total_seconds()))


def api_key_purpose(configuration_id: uuid.UUID) -> str:
    return f"ai-configuration:{configuration_id}"


class JobFailed(Exception):
    pass


@dataclass(frozen=True)
class Engine:
    """The provider a job uses, with what its requests cost."""

    provider: Provider
    configuration_id: uuid.UUID | None
    prices: Prices


class Generation:
    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], outbox: Outbox, box: SecretBox,
                 settings: AssessmentSettings, config: ConfigLookup) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.box = box
        self.settings = settings
        self.config = config

    # --- queueing --------------------------------------------------------------------------------

    async def choose_configuration(self, session: AsyncSession, tenant_id: uuid.UUID, *,
                                   configuration_id: uuid.UUID | None, provider: str | None) -> tuple[Any, str, str]:
        """(configuration row or None for the built-in generator, provider, model) for a new job."""
        table = orm.ai_configurations
        if configuration_id is not None:
            row = (await session.execute(select(table).where(table.c.id == configuration_id))).first()
            if row is None:
                raise NotFound(f"no AI configuration {configuration_id}")
            if not row.is_active:
                raise Conflict(f"the AI configuration {row.name!r} is not active")
            return row, row.provider, row.model
        provider = provider or await self.config("ai.defaultProvider", tenant_id)
        row = (await session.execute(select(table).where(table.c.provider == provider, table.c.is_active)
                                     .order_by(table.c.updated_at.desc()).limit(1))).first()
        if row is not None:
            return row, row.provider, row.model
        if provider == offline_generator.PROVIDER:
            return None, provider, offline_generator.MODEL
        raise Conflict(f"there is no active {provider} configuration; an admin can add one under "
                       "/v1/ai-configurations, or ask for provider OFFLINE")

    async def check_budget(self, session: AsyncSession, tenant_id: uuid.UUID, prices: Prices) -> None:
        """Refuse a paid request once this month's spend reached the tenant's budget."""
        if prices.free:
            return
        budget = Decimal(str(await self.config("ai.monthlyBudgetUsd", tenant_id)))
        spent = (await session.execute(select(func.coalesce(func.sum(orm.ai_usage_logs.c.cost), 0)).where(
            orm.ai_usage_logs.c.created_at >= func.date_trunc("month", func.now())))).scalar_one()
        if spent >= budget:
            raise TooManyRequests(f"this organisation's monthly AI budget of ${budget:.2f} is reached "
                                  f"(${spent:.2f} spent this month); an admin can raise ai.monthlyBudgetUsd",
                                  retry_after=_seconds_to_next_month(), budget_usd=str(budget), spent_usd=str(spent))

    async def enqueue(self, session: AsyncSession, *, tenant_id: uuid.UUID, lesson_id: uuid.UUID,
                      video_id: uuid.UUID | None, milestone_ids: list[uuid.UUID], count: int, types: list[str],
                      trigger: str, requested_by_id: uuid.UUID | None, configuration: Any, provider: str,
                      model: str) -> uuid.UUID:
        job_id = uuid.uuid4()
        await session.execute(orm.generation_jobs.insert().values(
            id=job_id, tenant_id=tenant_id, lesson_id=lesson_id, video_id=video_id, milestone_ids=milestone_ids,
            count_per_milestone=count, types=types, configuration_id=configuration.id if configuration else None,
            provider=provider, model=model, trigger=trigger, requested_by_id=requested_by_id, status="QUEUED",
            created_at=_now()))
        await session.execute(orm.generation_queue.insert().values(job_id=job_id, tenant_id=tenant_id,
                                                                   provider=provider))
        log.info("generation job queued", extra={"job_id": str(job_id), "provider": provider, "trigger": trigger,
                                                  "milestones": len(milestone_ids)})
        return job_id

    # --- running ----------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """The worker's loop: up to ``generation_concurrency`` jobs at once (the claim keeps them within the
        per-tenant and per-provider bounds, across workers), then poll. A slow provider holds its own jobs
        only, never another tenant's or another provider's."""
        running: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                claimed = None
                if len(running) < self.settings.generation_concurrency:
                    try:
                        claimed = await self.claim()
                    except Exception:  # an outage must not end the loop; the lease reruns the job
                        log.exception("generation loop error")
                if claimed is not None:
                    task = asyncio.create_task(self._run_logged(claimed), name=f"generation-{claimed.job_id}")
                    running.add(task)
                    task.add_done_callback(running.discard)
                    continue
                # Nothing to claim (or no room): wait for a job to finish, the next poll, or the stop.
                stopping = asyncio.ensure_future(stop.wait())
                await asyncio.wait({stopping, *running}, timeout=self.settings.generation_poll_seconds,
                                   return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
        finally:
            # Stopping: the jobs in flight are abandoned; their leases lapse and another runner takes them.
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def _run_logged(self, claimed: Any) -> None:
        try:
            await self.run_claimed(claimed)
        except Exception:  # a bug: logged; the lease reruns the job
            log.exception("generation loop error", extra={"job_id": str(claimed.job_id)})

    async def claim(self) -> Any:
        """Lease the oldest due job the bounds allow: (job_id, tenant_id, runs, leased_at), or None."""
        settings = self.settings
        async with self.sessions() as session, session.begin():
            return (await session.execute(CLAIM, {
                "lease": settings.generation_lease_seconds, "per_tenant": settings.generation_per_tenant,
                "per_provider": settings.generation_per_provider,
                "in_all": settings.generation_concurrency})).first()

    async def run_once(self) -> bool:
        """Claim and run one job to its end; False when none is waiting (or the bounds allow none)."""
        claimed = await self.claim()
        if claimed is None:
            return False
        await self.run_claimed(claimed)
        return True

    async def run_claimed(self, claimed: Any) -> None:
        """Run a claimed job, renewing its lease while it works: a runner that dies stops renewing, and
        its job is taken over when the (short) lease lapses. A runner that lost its lease (it stalled for
        longer than the lease, and another took the job over) stops: the job must not finish twice."""
        work = asyncio.create_task(self._run(claimed))
        keeper = asyncio.create_task(self._keep_lease(claimed, work))
        try:
            await work
        except asyncio.CancelledError:
            if keeper.done() and keeper.result() is False and not _cancelling():
                log.warning("generation job abandoned: its lease was taken over",
                            extra={"job_id": str(claimed.job_id)})
                return
            raise
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _keep_lease(self, claimed: Any, work: asyncio.Task[None]) -> bool:
        """Renews the lease every third of it while ``work`` runs; False (and ``work`` cancelled) if lost."""
        lease = self.settings.generation_lease_seconds
        q = orm.generation_queue
        while True:
            await asyncio.sleep(lease / 3)
            try:
                async with tenant_transaction(self.sessions, claimed.tenant_id) as session:
                    renewed = (await session.execute(update(q).where(
                        q.c.job_id == claimed.job_id, q.c.leased_at == claimed.leased_at).values(
                        available_at=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, lease)))).rowcount
            except Exception:  # an outage: try again at the next third; the lease may still hold
                log.exception("could not renew a generation lease", extra={"job_id": str(claimed.job_id)})
                continue
            if not renewed:
                work.cancel()
                return False

    async def _run(self, claimed: Any) -> None:
        job_id, tenant_id, runs = claimed.job_id, claimed.tenant_id, claimed.runs
        async with tenant_transaction(self.sessions, tenant_id) as session:
            job = (await session.execute(select(orm.generation_jobs).where(orm.generation_jobs.c.id == job_id))).first()
            if job is not None and job.status not in ("SUCCEEDED", "FAILED"):
                await session.execute(update(orm.generation_jobs).where(orm.generation_jobs.c.id == job_id).values(
                    status="RUNNING", runs=runs, started_at=_now()))
        if job is None or job.status in ("SUCCEEDED", "FAILED"):
            await self._dequeue(job_id, tenant_id)
            return
        started = time.monotonic()
        log.info("generation job started", extra={"job_id": str(job_id), "run": runs, "provider": job.provider})
        try:
            if runs > self.settings.generation_max_runs:
                last = f"; the last one: {job.error}" if job.error else " (the worker kept stopping)"
                raise JobFailed(f"gave up after {runs - 1} runs that did not finish{last}")
            engine = await self._engine(job)
            drafted = await self._draft_all(job, engine)
        except JobFailed as failure:
            await self._fail(job, str(failure))
            log.warning("generation job failed", extra={"job_id": str(job_id), "reason": str(failure)})
            return
        except Exception as error:  # a bug or an outage: said on the job in words, and run again after a pause
            log.exception("generation job run failed", extra={"job_id": str(job_id), "run": runs})
            await self._requeue(job, f"run {runs} failed unexpectedly ({type(error).__name__}: {error}); "
                                     f"it will be tried again")
            return
        count = await self._succeed(job, engine, drafted)
        log.info("generation job succeeded", extra={"job_id": str(job_id), "questions": count,
                                                    "seconds": round(time.monotonic() - started, 3)})

    async def _engine(self, job: Any) -> Engine:
        if job.configuration_id is None:
            return Engine(OfflineProvider(), None, Prices())
        async with tenant_transaction(self.sessions, job.tenant_id) as session:
            row = (await session.execute(select(orm.ai_configurations).where(
                orm.ai_configurations.c.id == job.configuration_id))).first()
        if row is None:
            raise JobFailed("its AI configuration was deleted")
        prices = Prices(Decimal(row.input_price_per_1k), Decimal(row.output_price_per_1k))
        if row.provider == offline_generator.PROVIDER:
            return Engine(OfflineProvider(), row.id, prices)
        if not row.api_key_encrypted:
            raise JobFailed(f"the AI configuration {row.name!r} has no API key")
        api_key = self.box.decrypt(row.api_key_encrypted, purpose=api_key_purpose(row.id)).decode()
        provider = OpenAIProvider(model=row.model, api_key=api_key, base_url=row.base_url,
                                  temperature=float(row.temperature), max_tokens=row.max_tokens,
                                  prompt_template=row.prompt_template or DEFAULT_PROMPT_TEMPLATE,
                                  timeout=self.settings.ai_timeout_seconds)
        return Engine(provider, row.id, prices)

    async def _draft_all(self, job: Any, engine: Engine) -> list[tuple[Any, list[TimedText], Drafts]]:
        async with tenant_transaction(self.sessions, job.tenant_id) as session:
            milestones = (await session.execute(select(orm.milestones).where(
                orm.milestones.c.id.in_(job.milestone_ids), ~orm.milestones.c.deleted)
                .order_by(orm.milestones.c.video_id, orm.milestones.c.timestamp))).all()
            video_ids = {m.video_id for m in milestones}
            siblings = (await session.execute(select(orm.milestones.c.video_id, orm.milestones.c.timestamp).where(
                orm.milestones.c.video_id.in_(video_ids), ~orm.milestones.c.deleted))).all()
            transcripts: dict[uuid.UUID, list[dict[str, Any]]] = {}
            # English first, then alphabetical: one transcript per video.
            for row in (await session.execute(select(orm.transcripts).where(
                    orm.transcripts.c.video_id.in_(video_ids)).order_by(
                    orm.transcripts.c.language != "en", orm.transcripts.c.language))).all():
                transcripts.setdefault(row.video_id, row.segments)
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
            results.append((milestone, window, await self._draft_with_retries(job, engine, request)))
        return results

    async def _draft_with_retries(self, job: Any, engine: Engine, request: DraftRequest) -> Drafts:
        tries = self.settings.ai_request_tries
        for attempt in range(1, tries + 1):
            async with tenant_transaction(self.sessions, job.tenant_id) as session:
                try:
                    await self.check_budget(session, job.tenant_id, engine.prices)
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
                await self._record_usage(job, engine, started, error.tokens_in, error.tokens_out, error=str(error))
                if not error.retryable:
                    raise JobFailed(str(error)) from error
                if attempt == tries:
                    raise JobFailed(f"{error} (after {tries} tries)") from error
                await asyncio.sleep(self._backoff(attempt, error.retry_after))
                continue
            await self._record_usage(job, engine, started, drafts.tokens_in, drafts.tokens_out, error=None)
            return drafts
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        base = self.settings.ai_backoff_seconds * 2 ** (attempt - 1)
        delay = min(self.settings.ai_backoff_max_seconds, max(base, retry_after or 0))
        return delay * random.uniform(0.8, 1.2)

    async def _record_usage(self, job: Any, engine: Engine, started: float, tokens_in: int, tokens_out: int, *,
                            error: str | None) -> None:
        await self.record_usage(tenant_id=job.tenant_id, actor_id=job.requested_by_id, request_type=REQUEST_TYPE,
                                configuration_id=engine.configuration_id, job_id=job.id,
                                provider=engine.provider.name, model=engine.provider.model, prices=engine.prices,
                                tokens_in=tokens_in, tokens_out=tokens_out,
                                response_time_ms=int((time.monotonic() - started) * 1000), error=error)

    async def record_usage(self, *, tenant_id: uuid.UUID, actor_id: uuid.UUID | None, request_type: str,
                           configuration_id: uuid.UUID | None, job_id: uuid.UUID | None, provider: str, model: str,
                           prices: Prices, tokens_in: int, tokens_out: int, response_time_ms: int,
                           error: str | None) -> None:
        """One provider request in ai_usage_logs, announced as AIUsageRecorded in the same transaction."""
        usage_id = uuid.uuid4()
        cost = prices.cost(tokens_in, tokens_out)
        async with tenant_transaction(self.sessions, tenant_id) as session:
            await session.execute(orm.ai_usage_logs.insert().values(
                id=usage_id, tenant_id=tenant_id, configuration_id=configuration_id, job_id=job_id,
                request_type=request_type, provider=provider, model=model, tokens_in=tokens_in,
                tokens_out=tokens_out, tokens_used=tokens_in + tokens_out, cost=cost, response_time=response_time_ms,
                success=error is None, error=error, created_at=_now()))
            await self.outbox.emit(session, events.AIUsageRecorded(
                usage_log_id=usage_id, request_type=request_type, provider=provider, model=model,
                tokens_in=tokens_in, tokens_out=tokens_out, tokens_used=tokens_in + tokens_out, cost=cost,
                response_time=response_time_ms, success=error is None, error=error),
                tenant_id=tenant_id, actor_id=actor_id)

    async def _succeed(self, job: Any, engine: Engine, drafted: list[tuple[Any, list[TimedText], Drafts]]) -> int:
        provider = engine.provider
        created: list[events.GeneratedQuestion] = []
        async with tenant_transaction(self.sessions, job.tenant_id) as session:
            for milestone, window, drafts in drafted:
                for draft in drafts.questions:
                    question_id = uuid.uuid4()
                    content = with_minted_ids(draft.content)
                    await session.execute(orm.questions.insert().values(
                        id=question_id, tenant_id=job.tenant_id, lesson_id=job.lesson_id,
                        video_id=milestone.video_id, milestone_id=milestone.id, type=content.type,
                        prompt=draft.prompt, content=content.model_dump(mode="json"),
                        explanation=draft.explanation, points=1, difficulty=draft.difficulty,
                        status="PENDING_REVIEW", source="AI", ai_provider=provider.name, ai_model=provider.model,
                        prompt_version=provider.prompt_version, transcript_start=window[0].start,
                        transcript_end=window[-1].end, generation_job_id=job.id, drawn_for_milestone_id=milestone.id,
                        created_by_id=job.requested_by_id,
                        created_at=_now(), updated_at=_now()))
                    created.append(events.GeneratedQuestion(question_id=question_id, milestone_id=milestone.id,
                                                            type=draft.content.type, status="PENDING_REVIEW"))
            await self._finish(session, job, status="SUCCEEDED", error=None, question_count=len(created))
            await self.outbox.emit(session, events.QuestionsGenerated(
                job_id=job.id, lesson_id=job.lesson_id, video_id=job.video_id, provider=provider.name,
                model=provider.model, questions=created), tenant_id=job.tenant_id, actor_id=job.requested_by_id)
        return len(created)

    async def _fail(self, job: Any, reason: str) -> None:
        async with tenant_transaction(self.sessions, job.tenant_id) as session:
            await self._finish(session, job, status="FAILED", error=reason, question_count=0)
            await self.outbox.emit(session, events.GenerationFailed(
                job_id=job.id, lesson_id=job.lesson_id, video_id=job.video_id, provider=job.provider,
                model=job.model, reason=reason), tenant_id=job.tenant_id, actor_id=job.requested_by_id)

    async def _requeue(self, job: Any, reason: str) -> None:
        async with tenant_transaction(self.sessions, job.tenant_id) as session:
            await session.execute(update(orm.generation_jobs).where(orm.generation_jobs.c.id == job.id).values(
                status="QUEUED", error=reason))
            await session.execute(update(orm.generation_queue).where(orm.generation_queue.c.job_id == job.id).values(
                available_at=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, self.settings.ai_backoff_seconds),
                leased_at=None))

    async def _finish(self, session: AsyncSession, job: Any, *, status: str, error: str | None,
                      question_count: int) -> None:
        await session.execute(update(orm.generation_jobs).where(orm.generation_jobs.c.id == job.id).values(
            status=status, error=error, question_count=question_count, finished_at=_now()))
        await session.execute(orm.generation_queue.delete().where(orm.generation_queue.c.job_id == job.id))

    async def _dequeue(self, job_id: uuid.UUID, tenant_id: uuid.UUID) -> None:
        async with tenant_transaction(self.sessions, tenant_id) as session:
            await session.execute(orm.generation_queue.delete().where(orm.generation_queue.c.job_id == job_id))


def ensure_milestones(milestones: list[Any], transcripts: set[uuid.UUID]) -> None:
    """A job needs milestones, each on a video with a transcript."""
    if not milestones:
        raise Invalid("there are no milestones to generate questions for; add milestones first")
    if missing := sorted({str(m.video_id) for m in milestones} - {str(v) for v in transcripts}):
        raise Invalid(f"these videos have no transcript yet: {', '.join(missing)}; upload one first")
