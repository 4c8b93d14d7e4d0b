"""R5: a graded answer → the student's progress row and the teacher's live message, against a raw
Kafka round trip on the same broker in the same run.

Needs a running platform (`make up`, or any started by deploy/local/services.sh: URLs, ports and
database from the CUEPOINT_* environment with `make up`'s defaults; the demo data, `make seed`).
Creates per run a published lesson of its own in the demo tenant (one video, one milestone at 10 s;
archived at the end) and a few TRUE/FALSE questions on it (20 attempts each). Then, under a background load
(--viewers simulated viewers through the gateway, each sending a telemetry batch of two heartbeats
every --batch-interval seconds and a milestone lookup every fourth batch; the progress projection
and analytics consume them), one sample after another, interleaved:
- raw:  one event produced with aiokafka (acks=all) to a topic of the run's own and consumed by a
        consumer already waiting on it: produce → consume, the floor of any Kafka path;
- ours: the student POSTs an answer (a wrong one: it is graded, and the question stays open) to
        assessment through the gateway → 201; then the time from the 201 until
        - the progress row reflects it: progress's NOTIFY on its channel, which the worker sends in
          the transaction that writes the row (so it arrives at commit), and
        - the teacher's SSE message arrives: GET /api/progress/v1/lessons/{id}/stream through the
          gateway, the message for this student with the answer's time in it.
      The path: assessment's outbox → its relay (woken by NOTIFY) → Kafka → progress's worker
      (assessment.events) → the row and NOTIFY → progress API's LISTEN → the teacher's stream.
Records p50/p99 of both (bench/report.py); budget: p99 ≤ 50 ms after the 201, for the SSE message.

    .venv/bin/python bench/answer_to_progress.py [--samples 150] [--viewers 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

import report


def _port(name: str, default: int) -> int:
    return int(os.environ.get(f"CUEPOINT_{name}_PORT") or default)


GATEWAY = f"http://127.0.0.1:{_port('GATEWAY', 8080)}"
PG_PORT = _port("PG", 5432)
DATABASE = os.environ.get("CUEPOINT_PG_DATABASE") or "cuepoint"
LISTEN_URL = (f"postgresql://cuepoint_progress:{os.environ.get('CUEPOINT_DB_PASSWORD', 'cuepoint-local')}"
              f"@127.0.0.1:{PG_PORT}/{DATABASE}")
BOOTSTRAP = os.environ.get("CUEPOINT_KAFKA_BOOTSTRAP") or "127.0.0.1:9092"
CHANNEL = "cuepoint_progress"  # progress's live channel (cuepoint.progress.live.NOTIFY_CHANNEL)
BUDGET_P99_MS = 50.0
TITLE = "Bench: answer to progress"
ATTEMPTS = 20  # per question (assessment's limit)
PASSWORD = "Demo123!"


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50": statistics.median(ordered), "p95": pick(0.95), "p99": pick(0.99)}


def _clip(seconds: int) -> bytes:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "clip.mp4"
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"color=c=black:s=64x48:r=1:d={seconds}",
                        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)], check=True)
        return path.read_bytes()


class Api:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def login(self, email: str) -> dict[str, str]:
        response = await self.http.post(f"{GATEWAY}/api/identity/v1/auth/login",
                                        json={"tenant": "demo", "email": email, "password": PASSWORD})
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    async def call(self, method: str, path: str, headers: dict[str, str], **kwargs: object) -> dict:
        response = await self.http.request(method, f"{GATEWAY}{path}", headers=headers, **kwargs)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else {}

    async def until(self, what: str, check, timeout: float = 60) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = await check()
            if found:
                return found
            await asyncio.sleep(0.2)
        raise RuntimeError(f"timed out waiting for {what}")


async def prepare(api: Api, teacher: dict[str, str]) -> tuple[str, str, str]:
    """(lesson, video, milestone) of a published lesson of this run's own. Each run its own: a lesson
    that kept every run's questions and the student's attempts grew a graded answer's work run after
    run (253 questions and 4,636 attempts made the lesson's grade a 5 ms query), so runs measured
    different things. Earlier runs' lessons are archived first (a run that was interrupted left its own)."""
    earlier = (await api.call("GET", "/api/content/v1/lessons", teacher, params={"q": TITLE, "limit": 100}))["items"]
    for item in earlier:
        if item["title"].startswith(TITLE) and item["status"] != "ARCHIVED":
            await api.call("POST", f"/api/content/v1/lessons/{item['id']}/archive", teacher)
    lesson = await api.call("POST", "/api/content/v1/lessons", teacher,
                            json={"title": f"{TITLE} ({datetime.now(UTC):%Y-%m-%d %H:%M:%S})"})
    body = _clip(60)
    upload = await api.call("POST", f"/api/content/v1/lessons/{lesson['id']}/videos", teacher, json={
        "title": "Bench video", "content_type": "video/mp4", "size_bytes": len(body), "duration_seconds": 60})
    (await api.http.put(upload["upload_url"], content=body, headers={"Content-Type": "video/mp4"})).raise_for_status()
    await api.call("POST", f"/api/content/v1/videos/{upload['video_id']}/complete", teacher)
    milestone = await api.call("POST", f"/api/content/v1/videos/{upload['video_id']}/milestones", teacher,
                               json={"timestamp": 10, "title": "Bench checkpoint", "is_required": False})
    await api.call("POST", f"/api/content/v1/lessons/{lesson['id']}/publish", teacher)
    return lesson["id"], upload["video_id"], milestone["id"]


async def questions(api: Api, teacher: dict[str, str], student: dict[str, str], lesson_id: str, milestone_id: str,
                    count: int) -> list[str]:
    """``count`` fresh approved TRUE/FALSE questions on the milestone, each answerable by the student."""
    async def policy() -> bool:  # assessment has seen the milestone (content's events)
        response = await api.http.put(f"{GATEWAY}/api/assessment/v1/milestones/{milestone_id}/policy",
                                      headers=teacher, json={"max_attempts": ATTEMPTS, "retry_penalty": 0})
        return response.status_code == 200
    await api.until("assessment seeing the bench milestone", policy)
    made = []
    for index in range(count):
        question = await api.call("POST", "/api/assessment/v1/questions", teacher, json={
            "lesson_id": lesson_id, "milestone_id": milestone_id, "prompt": f"Bench statement {uuid.uuid4().hex[:6]}",
            "explanation": "—", "content": {"type": "TRUE_FALSE", "correct": True}, "approve": True})
        made.append(question["id"])
    async def answerable() -> bool:  # assessment has seen the publication
        response = await api.http.get(f"{GATEWAY}/api/assessment/v1/milestones/{milestone_id}/questions",
                                      headers=student)
        return response.status_code == 200
    await api.until("the bench lesson published for assessment", answerable)
    return made


async def background(api: Api, student: dict[str, str], lesson_id: str, video_id: str, lookup_video: str,
                     viewers: int, interval: float, stop: asyncio.Event, counts: dict[str, int]) -> None:
    """``viewers`` simulated viewers of the demo lesson (not the bench's: its stream stays the sample's)."""
    async def viewer(index: int) -> None:
        device, position = f"bench-r5-{uuid.uuid4().hex[:8]}", 0
        await asyncio.sleep(random.uniform(0, interval))
        beat = 0
        while not stop.is_set():
            events = []
            for _ in range(2):
                start = position % 50
                events.append({"type": "video.heartbeat", "lesson_id": lesson_id, "video_id": video_id,
                               "position": start + 5, "played": [{"start": start, "end": start + 5}]})
                position += 5
            with contextlib.suppress(httpx.HTTPError):
                response = await api.http.post(f"{GATEWAY}/api/analytics/v1/events", headers=student,
                                               json={"device_id": device, "events": events})
                counts["telemetry" if response.status_code < 300 else "telemetry refused"] += 1
                if beat % 4 == 0:
                    await api.http.get(f"{GATEWAY}/api/content/v1/videos/{lookup_video}/milestones", headers=student)
                    counts["lookups"] += 1
            beat += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
    await asyncio.gather(*(viewer(i) for i in range(viewers)))


async def sse_messages(http: httpx.AsyncClient, teacher: dict[str, str], lesson_id: str,
                       arrivals: asyncio.Queue, connected: asyncio.Event) -> None:
    """The teacher's live stream of the bench lesson: (arrival time, data) of each `progress` message."""
    async with http.stream("GET", f"{GATEWAY}/api/progress/v1/lessons/{lesson_id}/stream", headers=teacher,
                           timeout=httpx.Timeout(10, read=None)) as response:
        response.raise_for_status()
        event = None
        async for line in response.aiter_lines():
            if line.startswith(":"):
                connected.set()
            elif line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "progress":
                arrivals.put_nowait((time.perf_counter(), json.loads(line.split(":", 1)[1])))
            elif not line:
                event = None


async def notices(lesson_id: str, arrivals: asyncio.Queue, listening: asyncio.Event) -> None:
    """progress's NOTIFYs for the bench lesson: each is sent by the transaction that wrote the row."""
    async with await psycopg.AsyncConnection.connect(LISTEN_URL, autocommit=True) as connection:
        await connection.execute(f"LISTEN {CHANNEL}")
        listening.set()
        async for notify in connection.notifies():
            notice = json.loads(notify.payload)
            if notice.get("lesson_id") == lesson_id:
                arrivals.put_nowait((time.perf_counter(), notice))


async def drain(queue: asyncio.Queue, quiet: float = 0.3) -> None:
    while True:
        try:
            await asyncio.wait_for(queue.get(), quiet)
        except TimeoutError:
            return


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=150)
    parser.add_argument("--viewers", type=int, default=20, help="background viewers (0: none)")
    parser.add_argument("--batch-interval", type=float, default=2.0, help="seconds between a viewer's batches")
    args = parser.parse_args()

    limits = httpx.Limits(max_connections=args.viewers + 20, max_keepalive_connections=args.viewers + 20)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http, httpx.AsyncClient(timeout=30) as sampler:
        api = Api(http)
        try:
            teacher = await api.login("teacher@example.com")
        except httpx.ConnectError:
            print(f"answer_to_progress: the gateway is not answering at {GATEWAY}: this benchmark measures the "
                  "running platform (make up; ports from CUEPOINT_*_PORT)", file=sys.stderr)
            return 1
        student = await api.login("student@example.com")
        lesson_id, bench_video, milestone_id = await prepare(api, teacher)
        made = await questions(api, teacher, student, lesson_id, milestone_id, -(-(args.samples + 5) // ATTEMPTS))
        demo = [item for item in (await api.call("GET", "/api/content/v1/lessons", student,
                                                 params={"q": "Photosynthesis", "limit": 100}))["items"]
                if item["title"].startswith("Photosynthesis")]
        if not demo:
            print("answer_to_progress: the demo lesson is missing (make seed)", file=sys.stderr)
            return 1
        demo_lesson = await api.call("GET", f"/api/content/v1/lessons/{demo[0]['id']}", student)
        demo_video = demo_lesson["videos"][0]["id"]

        topic = f"bench-r5-{uuid.uuid4().hex[:8]}"
        admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
        await admin.start()
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", enable_idempotence=True, linger_ms=0)
        consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
        await producer.start()
        await consumer.start()
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_end(partition)

        sse: asyncio.Queue = asyncio.Queue()
        rows: asyncio.Queue = asyncio.Queue()
        connected, listening, stop = asyncio.Event(), asyncio.Event(), asyncio.Event()
        counts = {"telemetry": 0, "telemetry refused": 0, "lookups": 0}
        tasks = [asyncio.create_task(sse_messages(sampler, teacher, lesson_id, sse, connected)),
                 asyncio.create_task(notices(lesson_id, rows, listening))]
        load = asyncio.create_task(background(api, student, demo[0]["id"], demo_video, bench_video, args.viewers,
                                              args.batch_interval, stop, counts))
        raw, to_row, to_sse, post_ms = [], [], [], []
        try:
            await asyncio.wait_for(asyncio.gather(connected.wait(), listening.wait()), 15)
            attempts = [q for q in made for _ in range(ATTEMPTS)]
            # The first answer makes the student's row (the teacher's stream then has them); the load warms up.
            await api.call("POST", f"/api/assessment/v1/questions/{attempts.pop(0)}/attempts", student,
                           json={"answer": {"value": False}, "time_taken_ms": 1000})
            await asyncio.sleep(3)
            await drain(sse)
            await drain(rows)
            for index in range(args.samples):
                # raw: produce → consume of one small event
                payload = json.dumps({"sample": index, "at": time.time()}).encode()
                started = time.perf_counter()
                await producer.send_and_wait(topic, payload)
                while True:
                    record = await consumer.getone(partition)
                    if record.value == payload:
                        break
                raw.append((time.perf_counter() - started) * 1000)

                # ours: POST → 201 → the row's commit and the teacher's message. An answer may touch
                # the row twice (the attempt, then the lesson grade a moment later): what is left of
                # the previous sample is dropped, and the message must carry this answer's time.
                for queue in (rows, sse):
                    while not queue.empty():
                        queue.get_nowait()
                started = time.perf_counter()
                response = await sampler.post(f"{GATEWAY}/api/assessment/v1/questions/{attempts.pop(0)}/attempts",
                                              headers=student, json={"answer": {"value": False}, "time_taken_ms": 1000})
                acknowledged = time.perf_counter()
                if response.status_code != 201:
                    print(f"answer refused: {response.status_code} {response.text[:300]}", file=sys.stderr)
                    return 2
                post_ms.append((acknowledged - started) * 1000)
                answered_at = response.json().get("answered_at")
                while True:
                    row_at, _ = await asyncio.wait_for(rows.get(), 30)
                    if row_at > started:
                        break
                answered = datetime.fromisoformat(answered_at)
                while True:
                    try:
                        sse_at, data = await asyncio.wait_for(sse.get(), 30)
                    except TimeoutError:
                        print(f"no message for the answer of {answered_at}", file=sys.stderr)
                        return 2
                    if sse_at > started and datetime.fromisoformat(data["updated_at"]) >= answered:
                        break
                to_row.append((row_at - acknowledged) * 1000)
                to_sse.append((sse_at - acknowledged) * 1000)
                await asyncio.sleep(random.uniform(0.2, 0.4))  # the second touch passes; not in lockstep with the load
        finally:
            stop.set()
            await load
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await producer.stop()
            await consumer.stop()
            with contextlib.suppress(Exception):
                await admin.delete_topics([topic])
            await admin.close()
            await api.call("POST", f"/api/content/v1/lessons/{lesson_id}/archive", teacher)

    raw_p, row_p, sse_p, post_p = (percentiles(s) for s in (raw, to_row, to_sse, post_ms))
    load = (f"{args.viewers} viewers through the gateway, a 2-heartbeat batch every {args.batch_interval:g} s each "
            f"and a milestone lookup every 4th ({counts['telemetry']} batches, {counts['lookups']} lookups sent)")
    print(f"answer → progress, {args.samples} samples, one at a time; background: {load}; "
          f"machine load average {os.getloadavg()[0]:.1f}")
    print(f"  raw aiokafka produce→consume   p50 {raw_p['p50']:6.1f} ms  p95 {raw_p['p95']:6.1f} ms  p99 {raw_p['p99']:6.1f} ms")
    print(f"  POST answer → 201 (gateway)    p50 {post_p['p50']:6.1f} ms  p95 {post_p['p95']:6.1f} ms  p99 {post_p['p99']:6.1f} ms")
    print(f"  201 → progress row committed   p50 {row_p['p50']:6.1f} ms  p95 {row_p['p95']:6.1f} ms  p99 {row_p['p99']:6.1f} ms"
          f"  ({row_p['p99'] / raw_p['p99']:.1f}x raw p99)")
    print(f"  201 → teacher's SSE message    p50 {sse_p['p50']:6.1f} ms  p95 {sse_p['p95']:6.1f} ms  p99 {sse_p['p99']:6.1f} ms"
          f"  ({sse_p['p99'] / raw_p['p99']:.1f}x raw p99)")
    met = sse_p["p99"] <= BUDGET_P99_MS
    baseline = f"raw produce→consume p50 {raw_p['p50']:.1f} / p99 {raw_p['p99']:.1f} ms"
    report.record("R5 answer → progress row", ours=f"p50 {row_p['p50']:.1f} / p99 {row_p['p99']:.1f} ms after the 201; "
                  f"under {load}", baseline=baseline, ratio=f"{row_p['p99'] / raw_p['p99']:.1f}× (p99)",
                  budget=f"p99 ≤ {BUDGET_P99_MS:g} ms after the 201", met=row_p["p99"] <= BUDGET_P99_MS)
    report.record("R5 answer → teacher's SSE message", ours=f"p50 {sse_p['p50']:.1f} / p99 {sse_p['p99']:.1f} ms after "
                  f"the 201; POST→201 p50 {post_p['p50']:.1f} / p99 {post_p['p99']:.1f} ms", baseline=baseline,
                  ratio=f"{sse_p['p99'] / raw_p['p99']:.1f}× (p99)", budget=f"p99 ≤ {BUDGET_P99_MS:g} ms after the 201",
                  met=met)
    print(f"  budget p99 <= {BUDGET_P99_MS:g} ms after the 201 (teacher's message): {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
