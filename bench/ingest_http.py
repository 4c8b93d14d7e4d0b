"""R1 — client events over HTTP through the gateway vs a raw aiokafka produce of the same events.

Needs a running platform (`make up`, or deploy/local/services.sh with the demo users of
`python -m cuepoint.identity seed-demo`); URLs, ports, topic prefix and broker come from the
CUEPOINT_* environment (gateway CUEPOINT_GATEWAY_PORT, default 8080; CUEPOINT_KAFKA_BOOTSTRAP;
CUEPOINT_TOPIC_PREFIX). In one run, on the platform's own client-events topic:
- catalogue: a lesson of the demo tenant with five videos, announced on content.events as content
  announces them, until analytics' ingest accepts heartbeats naming them (ownership check);
- load: N client events shaped as the web client queues them (web/src/telemetry/queue.ts: an id and
  occurred_at each; 90 % heartbeats, the rest pauses, navigation and error events) from the three
  demo users (the topic's key is the user);
- baseline: the same events as the ingest publishes them (ClientEventRecorded envelopes,
  serialised up front) produced with aiokafka straight to the same topic, with the ingest's producer
  settings (acks=all, idempotent), sends pipelined as the ingest pipelines a batch;
- HTTP: POST /api/analytics/v1/events through the gateway, batched as the web client batches
  (``--batch``: up to 500 a request, its maxBatch; a steady viewer's 5-second flush holds 1 or 2),
  from ``--connections`` keep-alive connections of one httpx AsyncClient, each posting its next
  batch once the previous one is answered (202 = the broker has them).
Each round measures both; ``--rounds`` (default 3) gives the spread. The driver's CPU (its process
time over the wall time) is printed: under one core means it was not what limited the rate.

    .venv/bin/python bench/ingest_http.py [--events 30000] [--batch 500] [--connections 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer

from cuepoint.contracts import content
from cuepoint.contracts.envelope import new_envelope
from cuepoint.contracts.topics import CLIENT_EVENTS, CONTENT_EVENTS
from cuepoint.runtime.kafka import PRODUCER_SETTINGS

import report

GOAL = 0.35
USERS = ("student@example.com", "teacher@example.com", "admin@example.com")
PASSWORD = os.environ.get("CUEPOINT_DEMO_PASSWORD", "Demo123!")


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def client_items(count: int, lesson: uuid.UUID, videos: list[uuid.UUID], seed: int) -> list[dict]:
    """Events as the web client's queue holds them (its ``record``: the event, an id, occurred_at)."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(hours=1)
    items = []
    for index in range(count):
        at = (start + timedelta(milliseconds=index)).isoformat().replace("+00:00", "Z")
        roll = rng.random()
        position = 10.0 * (index % 60)
        if roll < 0.9:
            event = {"type": "video.heartbeat", "lesson_id": str(lesson), "video_id": str(videos[index % len(videos)]),
                     "position": position + 10, "played": [{"start": position, "end": position + 10}],
                     "playback_rate": 1}
        elif roll < 0.95:
            event = {"type": "video.pause", "lesson_id": str(lesson), "video_id": str(videos[index % len(videos)]),
                     "position": position}
        elif roll < 0.99:
            event = {"type": "navigation", "path": f"/lessons/{lesson}"}
        else:
            event = {"type": "error", "message": "stalled", "source": "player"}
        items.append({**event, "id": str(uuid.uuid4()), "occurred_at": at})
    return items


def envelopes_of(batches: list[tuple[dict, list[dict]]]) -> list[tuple[bytes, bytes, list]]:
    """What the ingest would publish for these batches: (value, key, headers), serialised up front."""
    from cuepoint.analytics.domain.telemetry import client_event_record, retry_safe_event_id

    out = []
    received = datetime.now(UTC)
    for user, items in batches:
        for item in items:
            record = client_event_record(user["id"], item, user["device"], received, "bench/1.0")
            envelope = new_envelope(record, tenant_id=user["tenant"], producer="analytics", actor_id=user["id"])
            envelope = envelope.model_copy(update={"event_id": retry_safe_event_id(envelope.tenant_id, record)})
            out.append((envelope.model_dump_json().encode(), envelope.key.encode(),
                        [(k, v.encode()) for k, v in envelope.headers().items()]))
    return out


async def raw_produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes, list]], batch: int) -> float:
    """Events/s of a plain aiokafka producer (the ingest's settings) sending the serialised events,
    a batch's sends pipelined and awaited together as the ingest does, several batches in flight."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, client_id="bench-raw", **PRODUCER_SETTINGS)
    await producer.start()
    try:
        await (await producer.send(topic, messages[0][0], key=messages[0][1], headers=messages[0][2]))  # metadata
        started = time.perf_counter()
        pending = []
        for value, key, headers in messages:
            pending.append(await producer.send(topic, value, key=key, headers=headers))
            if len(pending) >= max(batch, 500) * 8:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return len(messages) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def http_ingest(gateway: str, batches: list[tuple[dict, list[dict]]], connections: int) -> tuple[float, float, int, int]:
    """(events/s accepted, the driver's CPU share of one core, rejected, retried) posting every batch; a
    503 (the broker did not acknowledge within the ingest's 5 s) is sent again, as the client does."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    queue: asyncio.Queue = asyncio.Queue()
    for item in batches:
        queue.put_nowait(item)
    accepted = rejected = retried = 0

    async with httpx.AsyncClient(base_url=gateway, limits=limits, timeout=30) as client:
        async def worker() -> None:
            nonlocal accepted, rejected, retried
            while not queue.empty():
                user, items = queue.get_nowait()
                body = json.dumps({"device_id": user["device"], "events": items}).encode()  # the client's JSON.stringify
                response = await client.post("/api/analytics/v1/events", content=body, headers=user["headers"])
                while response.status_code == 503:  # the broker did not ack in time: the client sends it again
                    retried += 1
                    await asyncio.sleep(0.5)
                    response = await client.post("/api/analytics/v1/events", content=body, headers=user["headers"])
                if response.status_code != 202:
                    raise RuntimeError(f"ingest answered {response.status_code}: {response.text[:300]}")
                result = response.json()
                accepted += result["accepted"]
                rejected += len(result["rejected"])

        await client.post("/api/analytics/v1/events", content=json.dumps(
            {"device_id": "warm", "events": batches[0][1][:1]}).encode(), headers=batches[0][0]["headers"])
        cpu, started = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        wall = time.perf_counter() - started
        return accepted / wall, (time.process_time() - cpu) / wall, rejected, retried


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def analytics_api_pid() -> int | None:
    local = Path(os.environ.get("CUEPOINT_LOCAL_DIR", Path(__file__).resolve().parents[1] / ".local"))
    try:
        return int((local / "run" / "analytics-api.pid.child").read_text().split()[0])
    except (OSError, ValueError):
        return None


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=30_000, help="per round and side")
    parser.add_argument("--batch", type=int, default=500, help="events per request (the web client's maxBatch: 500)")
    parser.add_argument("--connections", type=int, default=3,
                        help="one a demo user (a key, a partition): more only queue behind the same partitions")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--label", default="", help="a suffix for the report's row")
    args = parser.parse_args()

    gateway = f"http://127.0.0.1:{os.environ.get('CUEPOINT_GATEWAY_PORT', '8080')}"
    bootstrap = os.environ.get("CUEPOINT_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    prefix = os.environ.get("CUEPOINT_TOPIC_PREFIX", "")
    users = []
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        for email in USERS:
            login = await client.post("/api/identity/v1/auth/login",
                                      json={"tenant": "demo", "email": email, "password": PASSWORD})
            login.raise_for_status()
            token = login.json()["access_token"]
            users.append({"id": uuid.UUID(claims(token)["sub"]), "tenant": uuid.UUID(claims(token)["tid"]),
                          "device": f"bench-{email.split('@')[0]}", "headers": {
                              "Authorization": f"Bearer {token}", "Content-Type": "application/json",
                              "User-Agent": "bench/1.0"}})
        tenant = users[0]["tenant"]
        lesson, videos = uuid.uuid4(), [uuid.uuid4() for _ in range(5)]
        catalogue = [content.LessonCreated(lesson_id=lesson, title="Bench ingest", created_by_id=users[1]["id"])]
        catalogue += [content.VideoUploaded(video_id=v, lesson_id=lesson, title="v", storage_path="gs://b/o",
                                            content_type="video/mp4", size_bytes=1, checksum="AAAAAA==",
                                            duration_seconds=600) for v in videos]
        from kafka_load import produce
        await produce(bootstrap, prefix + CONTENT_EVENTS.name,
                      [new_envelope(e, tenant_id=tenant, producer="content") for e in catalogue])
        probe = client_items(1, lesson, videos, 0)
        probe[0].update({"type": "video.heartbeat", "video_id": str(videos[-1]), "position": 10,
                         "played": [{"start": 0, "end": 10}]})
        probe[0].pop("path", None), probe[0].pop("message", None), probe[0].pop("source", None)
        deadline = time.monotonic() + 120
        while True:  # analytics projects the catalogue; until then the ingest refuses events naming it
            response = await client.post("/api/analytics/v1/events", headers=users[0]["headers"],
                                         content=json.dumps({"device_id": "probe", "events": probe}).encode())
            if response.status_code == 202 and response.json()["accepted"] == 1:
                break
            if time.monotonic() > deadline:
                print(f"FAIL: analytics did not accept the catalogue's events within 2 minutes: {response.text[:300]}",
                      file=sys.stderr)
                return 1
            await asyncio.sleep(0.5)

    topic = prefix + CLIENT_EVENTS.name
    pid = analytics_api_pid()
    raws, https, shares, api_shares = [], [], [], []
    for round_ in range(args.rounds):
        items = client_items(args.events, lesson, videos, round_ + 1)
        batches = [(users[(i // args.batch) % len(users)], items[i:i + args.batch])
                   for i in range(0, len(items), args.batch)]
        messages = envelopes_of(batches)
        raw = await raw_produce(bootstrap, topic, messages, args.batch)
        api_cpu, started = (_cpu_seconds(pid) if pid else 0.0), time.perf_counter()
        rate, share, rejected, retried = await http_ingest(gateway, batches, args.connections)
        api_share = (_cpu_seconds(pid) - api_cpu) / (time.perf_counter() - started) if pid else float("nan")
        if rejected:
            print(f"FAIL: the ingest rejected {rejected} events", file=sys.stderr)
            return 1
        raws.append(raw), https.append(rate), shares.append(share), api_shares.append(api_share)
        print(f"round {round_ + 1}: raw produce {raw:,.0f} events/s; HTTP {rate:,.0f} events/s "
              f"({rate / raw:.2f}×, {retried} batches sent again after a 503); driver CPU {share:.0%} of a core, "
              f"analytics API {api_share:.0%}", flush=True)
    ratios = [h / r for h, r in zip(https, raws, strict=True)]
    ratio = statistics.median(ratios)
    load = (f"{args.events:,} events × {args.rounds} rounds, {args.batch}/request, {args.connections} connections; "
            f"driver ≤ {max(shares):.0%} of a core")
    print(f"median: HTTP {statistics.median(https):,.0f} events/s against raw {statistics.median(raws):,.0f} "
          f"= {ratio:.2f}× (rounds {min(ratios):.2f}–{max(ratios):.2f}); {load}")
    report.record(f"R1 ingest over HTTP{args.label}",
                  ours=f"{statistics.median(https):,.0f} events/s ({load})",
                  baseline=f"{statistics.median(raws):,.0f} events/s (raw aiokafka produce, same events and topic)",
                  ratio=f"{ratio:.2f}× (rounds {min(ratios):.2f}–{max(ratios):.2f})",
                  budget=f"≥ {GOAL}× the raw produce", met=ratio >= GOAL)
    if ratio < GOAL:
        print(f"FAIL: under {GOAL}× the raw produce", file=sys.stderr)
        return 1
    print(f"ok: at or above {GOAL}× the raw produce")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
