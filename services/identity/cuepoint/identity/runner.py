"""identity's background loops, run by its worker: last week's summaries, sent on the first check of
each week (use_cases.weekly_summaries decides who gets what, and sends each once); and the sweep of
data exports past their expiry (use_cases.exports)."""

from __future__ import annotations

import asyncio
import logging

from cuepoint.runtime.unit_of_work import UnitsOfWork

from .domain.notifications import week_to_summarize
from .mail import OutgoingMail
from .settings import IdentitySettings
from .unit_of_work import IdentityUnitOfWork
from .use_cases import now
from .use_cases.exports import expire_exports
from .use_cases.weekly_summaries import SendWeeklySummaries, send_weekly_summaries

log = logging.getLogger(__name__)


async def run_weekly(stop: asyncio.Event, units: UnitsOfWork[IdentityUnitOfWork], *, mail: OutgoingMail,
                     settings: IdentitySettings, unsubscribe_key: bytes) -> None:
    """The worker's loop: last week's summaries, sent on the first check of each week."""
    while not stop.is_set():
        try:
            await send_weekly_summaries(SendWeeklySummaries(week_to_summarize(now().date())), units, mail=mail,
                                        settings=settings, unsubscribe_key=unsubscribe_key)
        except Exception as error:  # a database hiccup: the next check tries again
            log.error("weekly summaries failed", extra={"error": repr(error)})
        try:
            await asyncio.wait_for(stop.wait(), settings.weekly_summary_check_seconds)
        except TimeoutError:
            pass


async def run_export_sweep(stop: asyncio.Event, units: UnitsOfWork[IdentityUnitOfWork], *,
                           settings: IdentitySettings) -> None:
    """The worker's loop: every tenant's expired archives deleted, exports whose parts never came failed."""
    while not stop.is_set():
        try:
            await sweep_exports(units)
        except Exception as error:  # a database hiccup: the next sweep tries again
            log.error("export sweep failed", extra={"error": repr(error)})
        try:
            await asyncio.wait_for(stop.wait(), settings.export_sweep_seconds)
        except TimeoutError:
            pass


async def sweep_exports(units: UnitsOfWork[IdentityUnitOfWork]) -> int:
    async with units(None) as uow:
        tenant_ids = await uow.tenants.all_ids()
    changed = 0
    for tenant_id in tenant_ids:
        async with units(tenant_id) as uow:
            changed += await expire_exports(uow)
    return changed
