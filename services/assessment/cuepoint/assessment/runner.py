"""The generation runner: the worker's loop that claims queued AI generation jobs and runs each
(use_cases.generation.run_job), renewing its lease while it works.

A job is claimed from ``generation_queue`` (SKIP LOCKED, with a lease: a worker that dies
mid-job leaves it to be run again). Each runner also samples the queue's depth and age, all tenants'
(``generation_queue_stats``), into its process's metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cuepoint.runtime.metrics import set_generation_queue
from cuepoint.runtime.secrets import SecretBox
from cuepoint.runtime.unit_of_work import UnitsOfWork

from .providers import OfflineProvider, OpenAIProvider
from .settings import AssessmentSettings
from .unit_of_work import AssessmentUnitOfWork
from .use_cases.generation import Claimed, Drafted, Engine, draft_all, run_job
from .use_cases.policies import ConfigLookup

log = logging.getLogger(__name__)

# Leases the oldest due job of any tenant that the bounds allow: the queue is tenant-isolated, this function
# alone reads across tenants (migrations 0005, 0006).
CLAIM = text("SELECT job_id, tenant_id, runs, leased_at "
             "FROM claim_generation_job(:lease, :per_tenant, :per_provider, :in_all)")
# The queue's figures across tenants, counts and ages per provider only (migration 0008).
QUEUE_STATS = text("SELECT provider, waiting, running, deferred, oldest_waiting_seconds FROM generation_queue_stats()")


def _cancelling() -> bool:
    """Whether the current task itself is being cancelled (not merely a task it awaited)."""
    task = asyncio.current_task()
    return bool(task and task.cancelling())


class GenerationRunner:
    def __init__(self, *, units: UnitsOfWork[AssessmentUnitOfWork], box: SecretBox, settings: AssessmentSettings,
                 config: ConfigLookup) -> None:
        self.units = units
        self.sessions: async_sessionmaker[AsyncSession] = units.sessions
        self.box = box
        self.settings = settings
        self.config = config

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

    async def sample_queue(self, stop: asyncio.Event) -> None:
        """Every ``metrics_sample_interval`` seconds until ``stop``: the queue's depth and age into the metrics.
        A database away is logged and tried again next round (the figures keep their last values; the sampled
        timestamp says how old they are)."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(self.sample_queue_once(),
                                       timeout=max(self.settings.metrics_sample_interval, 5.0))
            except Exception as error:
                log.warning("cannot read the generation queue's figures", extra={"error": repr(error)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.settings.metrics_sample_interval)

    async def sample_queue_once(self) -> list[Any]:
        """The queue's figures now, per provider, set on the metrics; returned too."""
        async with self.sessions() as session, session.begin():
            rows = list((await session.execute(QUEUE_STATS)).all())
        set_generation_queue([(r.provider, r.waiting, r.running, r.deferred, r.oldest_waiting_seconds) for r in rows],
                             providers=(OfflineProvider.name, OpenAIProvider.name))
        return rows

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
        while True:
            await asyncio.sleep(lease / 3)
            try:
                async with self.units(claimed.tenant_id) as uow:
                    renewed = await uow.jobs.renew_lease(claimed.job_id, claimed.leased_at, lease)
            except Exception:  # an outage: try again at the next third; the lease may still hold
                log.exception("could not renew a generation lease", extra={"job_id": str(claimed.job_id)})
                continue
            if not renewed:
                work.cancel()
                return False

    async def _run(self, claimed: Any) -> None:
        await run_job(Claimed(claimed.job_id, claimed.tenant_id, claimed.runs, claimed.leased_at), self.units,
                      box=self.box, settings=self.settings, draft_all=self._draft_all)

    async def _draft_all(self, job: Any, engine: Engine) -> Drafted:
        return await draft_all(job, engine, self.units, settings=self.settings, config=self.config)
