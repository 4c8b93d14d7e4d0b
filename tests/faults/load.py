"""A modest telemetry load that behaves like the web client, and the ledger that checks it.

The driver posts batches of client events to the ingest API (``POST /v1/events``) at a steady
rate and, like a client that follows our advice, sends a batch again — the same events, the same
ids — after a 503 or a lost connection, until it is acknowledged. It records every answer.

The ledger then looks downstream for each acknowledged event: stored exactly once in analytics'
event store and claimed exactly once by progress's playback projection (its inbox). Events are
navigation events whose path carries the client's id, so each row names the event it is.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from cuepoint.analytics.domain.telemetry import CLIENT_EVENT_NAMESPACE

FIGURES = Path(__file__).resolve().parents[2] / ".local" / "logs" / "faults.jsonl"


@dataclass
class Answers:
    """What the driver saw."""

    sent: int = 0  # events created (each counted once, however often its batch was retried)
    acknowledged: int = 0  # events of batches answered 202
    attempts: int = 0  # requests
    retries: int = 0  # requests that repeated a batch
    statuses: Counter = field(default_factory=Counter)  # status (or "error") → requests
    missing_retry_after: int = 0  # 503s without Retry-After
    slowest_answer_s: float = 0.0
    acked_at: list[float] = field(default_factory=list)  # monotonic time of each 202


class TelemetryLoad:
    def __init__(self, api: httpx.AsyncClient, headers: dict[str, str], *, tenant_id: str, user_id: str,
                 events_per_second: float = 60, batch_size: int = 10, retry_pause: float = 0.5) -> None:
        self.api = api
        self.headers = headers
        self.tenant_id = tenant_id
        self.user_id = user_id
        self.device = f"faults-{uuid.uuid4().hex[:8]}"
        self.batch_size = batch_size
        self.interval = batch_size / events_per_second
        self.retry_pause = retry_pause  # a client honouring Retry-After waits longer; the test keeps it short
        self.answers = Answers()
        self.acknowledged: list[str] = []  # client event ids, in acknowledgement order
        self.batch_of: dict[str, int] = {}  # client event id → its batch's place in that order
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> Answers:
        """Stops creating events; the batch in hand is still retried until acknowledged."""
        self._stop.set()
        assert self._task is not None
        await self._task
        return self.answers

    async def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            batch = [{"id": str(uuid.uuid4()), "type": "navigation", "occurred_at": _now()}
                     for _ in range(self.batch_size)]
            for event in batch:
                event["path"] = f"/faults/{event['id']}"
            self.answers.sent += len(batch)
            await self._deliver(batch)
            await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - started)))

    async def _deliver(self, batch: list[dict[str, Any]]) -> None:
        first = True
        while True:
            self.answers.attempts += 1
            self.answers.retries += 0 if first else 1
            first = False
            began = time.monotonic()
            try:
                response = await self.api.post("/v1/events", headers=self.headers, timeout=30,
                                               json={"device_id": self.device, "events": batch})
                status: int | str = response.status_code
            except httpx.HTTPError:
                response, status = None, "error"
            self.answers.slowest_answer_s = max(self.answers.slowest_answer_s, time.monotonic() - began)
            self.answers.statuses[status] += 1
            if status == 202:
                assert response is not None and response.json()["accepted"] == len(batch), response.text
                self.acknowledged += [event["id"] for event in batch]
                self.batch_of.update((event["id"], len(self.answers.acked_at)) for event in batch)
                self.answers.acknowledged += len(batch)
                self.answers.acked_at.append(time.monotonic())
                return
            if status == 503 and response is not None and "Retry-After" not in response.headers:
                self.answers.missing_retry_after += 1
            await asyncio.sleep(self.retry_pause)

    def event_id(self, client_event_id: str) -> uuid.UUID:
        """The event id the ingest publishes the event under (see ``ingest.retry_safe``)."""
        name = f"{self.tenant_id}/{self.user_id}/{self.device}/{client_event_id}"
        return uuid.uuid5(CLIENT_EVENT_NAMESPACE, name)


@dataclass
class Tally:
    acknowledged: int
    stored: int  # distinct acknowledged events in analytics_events
    duplicated: int  # rows beyond the first of an event
    lost: int  # acknowledged, not stored
    projected: int  # acknowledged events claimed by progress's playback projection
    projection_lost: int
    in_order: bool  # stored batch after batch as acknowledged (one user: one partition; a batch shares its time)
    lost_batches: list[int]  # (of acknowledged batches, counted from 0) those with an event not stored


def tally(connection: psycopg.Connection, load: TelemetryLoad) -> Tally:
    rows = connection.execute(
        "SELECT substr(data->>'path', 9) FROM analytics.analytics_events WHERE device_id = %s "
        "ORDER BY occurred_at, id", (load.device,)).fetchall()
    stored = Counter(row[0] for row in rows)
    acked = set(load.acknowledged)
    ids = [load.event_id(event) for event in load.acknowledged]
    projected = connection.execute(
        "SELECT count(*) FROM progress.inbox WHERE consumer_group = 'progress.playback' AND event_id = ANY(%s)",
        (ids,)).fetchone()[0]
    batches = [load.batch_of[row[0]] for row in rows if row[0] in acked]
    return Tally(
        acknowledged=len(acked),
        stored=len(acked & set(stored)),
        duplicated=sum(count - 1 for count in stored.values()),
        lost=len(acked - set(stored)),
        projected=projected,
        projection_lost=len(acked) - projected,
        in_order=batches == sorted(batches),
        lost_batches=sorted({load.batch_of[event] for event in acked - set(stored)}),
    )


async def settled(connection: psycopg.Connection, load: TelemetryLoad, *, timeout: float = 60) -> tuple[Tally, float]:
    """The tally once every acknowledged event is stored and projected (or ``timeout`` passed), and how long that took."""
    began = time.monotonic()
    while True:
        result = tally(connection, load)
        if (result.lost == 0 and result.projection_lost == 0) or time.monotonic() - began > timeout:
            return result, time.monotonic() - began
        await asyncio.sleep(0.5)


def record(scenario: str, answers: Answers, result: Tally, **figures: Any) -> dict[str, Any]:
    """The scenario's figures: printed (pytest -s shows them) and appended to .local/logs/faults.jsonl."""
    line = {"scenario": scenario, "sent": answers.sent, "acknowledged": result.acknowledged, "stored": result.stored,
            "duplicated": result.duplicated, "lost": result.lost, "projected": result.projected,
            "projection_lost": result.projection_lost, "in_order": result.in_order, "lost_batches": result.lost_batches,
            "batches": len(answers.acked_at), "requests": answers.attempts,
            "retries": answers.retries, "statuses": {str(k): v for k, v in answers.statuses.items()},
            "missing_retry_after": answers.missing_retry_after,
            "slowest_answer_s": round(answers.slowest_answer_s, 2),
            **{k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()}}
    print(f"\nFAULT FIGURES {json.dumps(line)}")
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    with FIGURES.open("a") as out:
        out.write(json.dumps({"at": _now(), **line}) + "\n")
    return line


def first_ack_after(answers: Answers, moment: float) -> float | None:
    later = [at for at in answers.acked_at if at >= moment]
    return later[0] - moment if later else None


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


__all__ = ["Answers", "TelemetryLoad", "Tally", "asdict", "first_ack_after", "record", "settled", "tally"]
