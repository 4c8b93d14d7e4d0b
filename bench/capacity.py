"""Capacity in concurrent viewers (issue 21): the Go load driver (bench/capacity/, built into .local/)
steps up viewers of the demo lesson through the gateway until a budget breaks, while this wrapper
samples each process's CPU (/proc), the machine's load, and the projection lag (a probe student's
acknowledged batch → its row in analytics' event store), and records each step and the knee.

Needs a running platform (services.sh up + `make seed`), the CUPOINT_* environment of it.
Students: N in tenant demo, made with identity's own code (accounts.ensure_user; a cheap argon2
hash, as tests would) and signed in with identity's open_session (the sign-in use case without the
argon2 verify, 40 ms of CPU each); the teacher signs in through the gateway.

    .venv/bin/python bench/capacity.py [--steps 250,500,1000,2000,4000] [--measure 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

import report

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / ".local" / "capacity"
port = lambda name, default: int(os.environ.get(f"CUEPOINT_{name}_PORT") or default)  # noqa: E731
GATEWAY = f"http://127.0.0.1:{port('GATEWAY', 8080)}"
DATABASE = os.environ.get("CUEPOINT_PG_DATABASE") or "cuepoint"
ADMIN_URL = (f"postgresql://postgres:{os.environ.get('CUEPOINT_PG_SUPERUSER_PASSWORD', 'cuepoint-admin')}"
             f"@127.0.0.1:{port('PG', 5432)}/{DATABASE}")
LOCAL = Path(os.environ.get("CUEPOINT_LOCAL_DIR") or ROOT / ".local")
BUDGETS = {"lookup": 5.0, "resume": 5.0, "answer": 50.0}  # p99 ms: DESIGN.md (lookup); resume, answer: see README
LAG_BUDGET = 2.0
ANSWERS = {"MULTIPLE_CHOICE": lambda c: {"option_ids": c["correct_option_ids"]}, "TRUE_FALSE": lambda c: {"value": c["correct"]},
           "FILL_IN_THE_BLANK": lambda c: {"blanks": {b["id"]: b["accepted"][0] for b in c["blanks"]}},
           "SHORT_ANSWER": lambda c: {"text": c["accepted_answers"][0]},
           "MATCHING": lambda c: {"matches": {p["left_id"]: p["right_id"] for p in c["pairs"]}},
           "ORDERING": lambda c: {"order": c["correct_order"]}}


async def students(count: int) -> list[str]:
    from cuepoint.identity.bootstrap import build_identity
    from cuepoint.identity.security import Passwords
    from cuepoint.identity.settings import IdentitySettings
    from cuepoint.identity.use_cases import accounts
    from cuepoint.identity.use_cases.sessions import ClientInfo, open_session
    from cuepoint.runtime.service import ServiceContext
    context = ServiceContext("identity", IdentitySettings())
    identity = build_identity(context)
    cheap = Passwords(memory_kib=64, iterations=1)
    tenant = await identity.ensure_tenant(slug="demo", name="Demo")
    tokens = []
    for i in range(count):
        user, _ = await accounts.ensure_user(accounts.EnsureUser(tenant.id, f"cap{i}@bench.example", "Bench123!x",
                                                                 f"Viewer {i}", "STUDENT"), identity.units, passwords=cheap)
        async with identity.units(tenant.id) as uow:
            pair = await open_session(uow, user, ClientInfo(device_id=f"cap-{i}"), keys=identity.keys,
                                      settings=identity.settings)
        tokens.append(pair.access_token)
    await context.close()
    return tokens


def lesson(http: httpx.Client, teacher: str) -> dict:
    auth = {"Authorization": f"Bearer {teacher}"}
    found = http.get("/api/content/v1/lessons", params={"q": "Photosynthesis", "limit": 10}, headers=auth).json()["items"][0]
    full = http.get(f"/api/content/v1/lessons/{found['id']}", headers=auth).json()
    video = full["videos"][0]
    playback = http.get(f"/api/content/v1/videos/{video['id']}/playback", headers=auth).json()
    questions = http.get("/api/assessment/v1/questions", params={"lesson_id": found["id"], "limit": 100}, headers=auth).json()
    questions = questions["items"] if isinstance(questions, dict) else questions
    milestones = [{"id": str(m["id"]), "timestamp": m["timestamp"],
                   "questions": [{"id": q["id"], "answer": ANSWERS[q["content"]["type"]](q["content"])}
                                 for q in questions if q.get("milestone_id") == str(m["id"]) and q.get("status", "APPROVED") == "APPROVED"]}
                  for m in playback["milestones"]]
    return {"lesson_id": found["id"], "video_id": video["id"], "duration": playback.get("duration") or 60, "milestones": milestones}


def platform_pids() -> dict[str, int]:
    pids = {}
    for pidfile in sorted((LOCAL / "run").glob("*.pid.child")):
        try:
            pids[pidfile.name.removesuffix(".pid.child")] = int(pidfile.read_text())
        except (OSError, ValueError):
            pass
    try:
        master = int((LOCAL / "run" / "gateway.pid").read_text())
        pids["gateway"] = master
        for child in Path(f"/proc/{master}/task/{master}/children").read_text().split():
            pids[f"gateway-{child}"] = int(child)
    except (OSError, ValueError):
        pass
    return pids


def ticks(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError):
        return 0.0


def postgres_cpu() -> float:
    total = 0.0
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if DATABASE.encode() in (proc / "cmdline").read_bytes() and b"postgres:" in (proc / "cmdline").read_bytes():
                    total += ticks(int(proc.name))
            except OSError:
                pass
    return total  # backends that ended between samples are not counted


def machine() -> tuple[float, float]:
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) / os.sysconf("SC_CLK_TCK"), (fields[3] + fields[4]) / os.sysconf("SC_CLK_TCK")


class LagProbe(threading.Thread):
    """Once a second: one heartbeat batch of a probe student through the gateway; the time from its 2xx
    to its row in analytics.analytics_events
    (found by its device and a position of its own: the store keeps its own id and time)."""

    def __init__(self, token: str, ids: dict) -> None:
        super().__init__(daemon=True)
        self.token, self.ids, self.samples, self.stop = token, ids, [], threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=GATEWAY, timeout=30) as http, psycopg.connect(ADMIN_URL, autocommit=True) as db:
            me = http.get("/api/identity/v1/users/me", headers={"Authorization": f"Bearer {self.token}"})
            me.raise_for_status()
            user_id = me.json()["id"]
            while not self.stop.is_set():
                sent, mark = datetime.now(UTC), round(1 + random.random(), 6)  # the ingest stamps its own time
                try:
                    http.post("/api/analytics/v1/events", headers={"Authorization": f"Bearer {self.token}"}, json={
                    "device_id": "cap-probe", "events": [{"id": str(uuid.uuid4()), "occurred_at": sent.isoformat(),
                                                           "type": "video.heartbeat", "lesson_id": self.ids["lesson_id"],
                                                           "video_id": self.ids["video_id"], "position": mark,
                                                           "played": [{"start": 0, "end": 1}]}]}).raise_for_status()
                except httpx.HTTPError:
                    self.samples.append((time.time(), float("inf")))  # refused or reset: no lag to measure
                    self.stop.wait(1)
                    continue
                acked = time.monotonic()
                while time.monotonic() - acked < 15 and not self.stop.is_set():
                    # By the probe student's index (user_id, occurred_at): polled every 50 ms, a scan of the
                    # event store (10 million rows after the dashboards' benchmark) cost 0.3 s and a third of a core.
                    if db.execute("SELECT 1 FROM analytics.analytics_events WHERE user_id = %s AND "
                                  "occurred_at > %s - interval '1 minute' AND (data->>'position')::float = %s",
                                  (user_id, sent, mark)).fetchone():
                        self.samples.append((time.time(), time.monotonic() - acked))
                        break
                    time.sleep(0.05)
                else:
                    if not self.stop.is_set():
                        self.samples.append((time.time(), float("inf")))
                self.stop.wait(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="250,500,1000,2000,4000,7000,10000")
    parser.add_argument("--ramp", type=float, default=10)
    parser.add_argument("--measure", type=float, default=30)
    parser.add_argument("--lesson-seconds", type=float, default=600, help="a viewer's pass through the lesson")
    parser.add_argument("--no-student-streams", action="store_true", help="viewers do not hold progress's SSE stream")
    parser.add_argument("--teachers-per", type=int, default=30)
    parser.add_argument("--max-conns", type=int, default=400)
    args = parser.parse_args()
    steps = [int(s) for s in args.steps.split(",")]
    subprocess.run(["/usr/local/go/bin/go", "build", "-o", str(BINARY), "."], cwd=ROOT / "bench" / "capacity", check=True)
    http = httpx.Client(base_url=GATEWAY, timeout=60)
    teacher = http.post("/api/identity/v1/auth/login", json={"tenant": "demo", "email": "teacher@example.com",
                                                             "password": "Demo123!"}).json()["access_token"]
    ids = lesson(http, teacher)
    print(f"lesson {ids['lesson_id']}: {sum(len(m['questions']) for m in ids['milestones'])} questions; making {max(steps) + 1} students",
          flush=True)
    tokens = asyncio.run(students(max(steps) + 1))
    config = {**ids, "gateway": GATEWAY, "lesson_seconds": args.lesson_seconds, "tokens": tokens[1:], "teacher_token": teacher,
              "steps": steps, "teachers_per": args.teachers_per, "student_streams": not args.no_student_streams,
              "ramp_seconds": args.ramp, "measure_seconds": args.measure, "max_conns": args.max_conns,
              "stop_p99_ms": 20 * max(BUDGETS.values())}
    probe = LagProbe(tokens[0], ids)
    probe.start()
    driver = subprocess.Popen([str(BINARY)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    driver.stdin.write(json.dumps(config))
    driver.stdin.close()
    knee, results, before = None, [], {}
    for line in driver.stdout:
        message = json.loads(line)
        if message["event"] == "measure_start":
            pids = platform_pids()
            before = {"t": time.time(), "cpu": {name: ticks(pid) for name, pid in pids.items()}, "pg": postgres_cpu(),
                      "machine": machine(), "pids": pids}
            continue
        elapsed = time.time() - before["t"]
        cores = {name: (ticks(pid) - before["cpu"][name]) / elapsed for name, pid in before["pids"].items()}
        grouped: dict[str, float] = {}
        for name, value in cores.items():
            group = "gateway" if name.startswith("gateway") else "-".join(name.split("-")[:2])  # prometheus: one part
            grouped[group] = grouped.get(group, 0) + value
        grouped["postgres(own db)"] = (postgres_cpu() - before["pg"]) / elapsed
        grouped["driver"] = message["driver_cpu_cores"]
        total, idle = (a - b for a, b in zip(machine(), before["machine"], strict=True))
        busy = (total - idle) / total * 2
        lags = sorted(lag for at, lag in probe.samples if at >= before["t"])
        lag_p99 = lags[min(len(lags) - 1, int(0.99 * len(lags)))] if lags else float("inf")
        ops = message["ops"]
        p99 = {op: ops.get(op, {}).get("p99", float("inf")) if not ops.get(op, {}).get("errors") else float("inf")
               for op in BUDGETS}
        met = all(p99[op] <= BUDGETS[op] for op in BUDGETS) and lag_p99 <= LAG_BUDGET
        ours = sum(grouped[g] for g in grouped if g != "driver")
        top = sorted(grouped.items(), key=lambda kv: -kv[1])[:4]
        load = os.getloadavg()[0]
        summary = (f"{message['viewers']} viewers ({message['teachers']} teacher streams, {message['streams_open']} streams open): "
                   + ", ".join(f"{op} p99 {ops[op]['p99']:.1f} ms ({ops[op]['rate']:.0f}/s)" for op in
                               ("telemetry", "lookup", "resume", "answer") if "p99" in ops.get(op, {}))
                   + "".join(f"; {op}: {ops[op]['errors']} failed" for op in ops if ops[op].get("errors"))
                   + f"; lag p99 {lag_p99:.2f} s; CPU ours {ours:.2f} cores (top {', '.join(f'{g} {c:.2f}' for g, c in top)}),"
                   f" driver {message['driver_cpu_cores']:.2f}, machine {busy:.2f}/2 busy, load {load:.1f}")
        print(summary, flush=True)
        results.append({**message, "cpu": grouped, "lag_p99": lag_p99, "met": met, "load": load, "machine_busy": busy})
        status = {op: ops[op].get("status") for op in ops}
        print(f"    statuses: {status}", flush=True)
        report.record(f"capacity: {message['viewers']} viewers", ours=summary, budget="p99 lookup, resume <= 5 ms; answer <= 50 ms; "
                      "projection lag <= 2 s", met=met)
        if met:
            knee = message
    driver.wait()
    probe.stop.set()
    (report.OUT / "capacity.json").write_text(json.dumps(results, indent=1))
    report.record("capacity: knee", ours=f"{knee['viewers'] if knee else 0} concurrent viewers on 2 cores (shared machine, load "
                  f"{results[-1]['load'] if results else 0:.1f})", budget=">= 10,000 viewers",
                  met=bool(knee and knee["viewers"] >= 10_000))
    print(f"knee: {knee['viewers'] if knee else 'below the first step'} viewers")
    return 0 if knee and knee["viewers"] >= 10_000 else 1


if __name__ == "__main__":
    sys.exit(main())
