"""The demo data, created through the platform's own APIs (through the gateway) and events:
the seed's "Sample Data". Run by `make seed` (and `make up`) after identity's demo users exist.

- system configs: the organisation's defaults, set explicitly;
- AI configurations: OpenAI (inactive until an admin adds a key) and the offline generator (active);
- one complete lesson: a real 60-second video made here with ffmpeg and uploaded to object
  storage, a transcript, two required milestones, approved questions of all six types, published,
  and AI drafts (offline generator) waiting for review;
- partial progress for the student: 20 seconds watched, the first milestone's questions answered
  (one wrongly at first), which also leaves analytics events behind.

Idempotent: a second run finds the lesson and changes nothing.

    .venv/bin/python deploy/local/demo.py [--gateway http://127.0.0.1:8080]
"""

from __future__ import annotations

import argparse
import os
import base64
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import google_crc32c
import httpx

TITLE = "Photosynthesis: how plants make food"
VTT = """WEBVTT

00:00:00.500 --> 00:00:07.000
Photosynthesis is how plants, algae and some bacteria turn light into chemical energy.

00:00:07.000 --> 00:00:13.500
It happens inside chloroplasts, where the green pigment chlorophyll absorbs sunlight.

00:00:13.500 --> 00:00:19.500
The light reactions split water and release oxygen into the atmosphere.

00:00:20.500 --> 00:00:27.000
Plants take in carbon dioxide through tiny pores in their leaves called stomata.

00:00:27.000 --> 00:00:34.000
In the Calvin cycle, carbon dioxide and captured energy are combined into glucose.

00:00:34.000 --> 00:00:41.000
Glucose stores the energy; respiration later releases it for growth and repair.

00:00:41.000 --> 00:00:44.500
So the inputs are light, water and carbon dioxide; the outputs are glucose and oxygen.

00:00:45.500 --> 00:00:59.000
Without photosynthesis there would be almost no oxygen in the air we breathe.
"""
MILESTONES = [(20.0, "Where it happens"), (45.0, "Inputs and outputs")]
QUESTIONS = [  # (milestone index, prompt, explanation, content)
    (0, "Where in the plant cell does photosynthesis happen?", "Chloroplasts hold the chlorophyll that absorbs light.",
     {"type": "MULTIPLE_CHOICE", "options": [{"id": "a", "text": "Chloroplasts"}, {"id": "b", "text": "Mitochondria"},
                                             {"id": "c", "text": "The nucleus"}, {"id": "d", "text": "Ribosomes"}],
      "correct_option_ids": ["a"]}),
    (0, "The light reactions release oxygen.", "Splitting water releases oxygen.",
     {"type": "TRUE_FALSE", "correct": True}),
    (0, "Complete the sentence.", "Chlorophyll is the green pigment that absorbs sunlight.",
     {"type": "FILL_IN_THE_BLANK", "template": "The green pigment {{b1}} absorbs {{b2}}.",
      "blanks": [{"id": "b1", "accepted": ["chlorophyll"]}, {"id": "b2", "accepted": ["sunlight", "light"]}]}),
    (1, "What sugar does the Calvin cycle make?", "Carbon dioxide and captured energy become glucose.",
     {"type": "SHORT_ANSWER", "accepted_answers": ["glucose"], "tolerance": 1}),
    (1, "Match each term to what it is.", "Stomata are pores; chlorophyll a pigment; glucose a sugar.",
     {"type": "MATCHING", "pairs": [
         {"left_id": "l1", "left": "Stomata", "right_id": "r1", "right": "Pores in leaves"},
         {"left_id": "l2", "left": "Chlorophyll", "right_id": "r2", "right": "Green pigment"},
         {"left_id": "l3", "left": "Glucose", "right_id": "r3", "right": "Sugar that stores energy"}]}),
    (1, "Put the steps in order.", "Light is absorbed, water is split, then the Calvin cycle makes glucose.",
     {"type": "ORDERING", "items": [{"id": "s1", "text": "Chlorophyll absorbs light"},
                                     {"id": "s2", "text": "Water is split, oxygen released"},
                                     {"id": "s3", "text": "The Calvin cycle makes glucose"}],
      "correct_order": ["s1", "s2", "s3"]}),
]
CONFIGS = {"grading.passingThreshold": 70.0, "grading.defaultMaxAttempts": 3, "ai.defaultProvider": "OFFLINE",
           "ai.monthlyBudgetUsd": "50.00"}


class Demo:
    def __init__(self, gateway: str, video_dir: Path) -> None:
        self.http = httpx.Client(base_url=gateway, timeout=60)
        self.video_dir = video_dir

    def call(self, method: str, path: str, token: str | None = None, expect: tuple[int, ...] = (200, 201, 202),
             **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.http.request(method, path, headers=headers, **kwargs)
        if response.status_code not in expect:
            raise SystemExit(f"demo: {method} {path} answered {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    def login(self, email: str) -> str:
        return self.call("POST", "/api/identity/v1/auth/login", json={
            "tenant": "demo", "email": email, "password": "Demo123!"})["access_token"]

    def wait(self, what: str, check: Any, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = check()
            if result:
                return result
            time.sleep(0.3)
        raise SystemExit(f"demo: {what} did not happen within {timeout:.0f} s (are the workers running?)")

    def video(self) -> Path:
        """A real, playable 60-second H.264/AAC video, made once with ffmpeg."""
        path = self.video_dir / "photosynthesis.mp4"
        if not path.exists():
            self.video_dir.mkdir(parents=True, exist_ok=True)
            subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                            "testsrc2=duration=60:size=640x360:rate=24", "-f", "lavfi", "-i",
                            "sine=frequency=330:duration=60", "-c:v", "libx264", "-preset", "veryfast", "-crf", "32",
                            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-shortest", "-movflags", "+faststart",
                            str(path)], check=True)
        return path

    def run(self) -> int:
        admin, teacher, student = (self.login(f"{role}@example.com") for role in ("admin", "teacher", "student"))
        current = {c["key"]: c for c in self.call("GET", "/api/identity/v1/system-configs", admin)}
        changed = [key for key, value in CONFIGS.items()
                   if current.get(key, {}).get("source") != "tenant" or str(current[key]["value"]) != str(value)]
        for key in changed:  # only what differs: a second run publishes no config events
            self.call("PUT", f"/api/identity/v1/system-configs/{key}", admin, json={"value": CONFIGS[key]})
        print(f"system configs: {', '.join(CONFIGS)} ({len(changed)} set)")
        for body in ({"name": "OpenAI (add an API key to use)", "provider": "OPENAI", "model": "gpt-4o-mini",
                      "input_price_per_1k": "0.00015", "output_price_per_1k": "0.0006", "is_active": False},
                     {"name": "Built-in offline generator", "provider": "OFFLINE", "model": "cuepoint-offline-2",
                      "is_active": True}):
            self.call("POST", "/api/assessment/v1/ai-configurations", admin, json=body, expect=(201, 409))
        print("AI configurations: OpenAI (inactive, no key), offline generator (active)")

        found = [lesson for lesson in self.call("GET", "/api/content/v1/lessons", teacher,
                                                params={"q": TITLE, "limit": 100})["items"] if lesson["title"] == TITLE]
        if found:
            print(f"lesson {TITLE!r}: exists ({found[0]['id']})")
            return 0
        lesson = self.call("POST", "/api/content/v1/lessons", teacher, json={
            "title": TITLE, "description": "Where photosynthesis happens, what goes in and what comes out.",
            "tags": ["biology", "demo"], "seek_policy": "NO_SKIP_AHEAD"})
        path = self.video()
        data = path.read_bytes()
        checksum = base64.b64encode(google_crc32c.Checksum(data).digest()).decode()
        upload = self.call("POST", f"/api/content/v1/lessons/{lesson['id']}/videos", teacher, json={
            "title": "Photosynthesis in one minute", "content_type": "video/mp4", "size_bytes": len(data),
            "duration_seconds": 60, "checksum_crc32c": checksum})
        put = httpx.put(upload["upload_url"], content=data, headers={"Content-Type": "video/mp4"}, timeout=60)
        if put.status_code not in (200, 201):
            raise SystemExit(f"demo: the upload to storage answered {put.status_code}: {put.text[:300]}")
        video = self.call("POST", f"/api/content/v1/videos/{upload['video_id']}/complete", teacher)
        milestones = [self.call("POST", f"/api/content/v1/videos/{video['id']}/milestones", teacher,
                                json={"timestamp": at, "title": title, "is_required": True})
                      for at, title in MILESTONES]
        self.call("PUT", f"/api/content/v1/videos/{video['id']}/transcripts/en", teacher,
                  json={"format": "vtt", "content": VTT})
        print(f"lesson {TITLE!r}: video ({len(data):,} bytes, ffmpeg), transcript, {len(milestones)} milestones")

        # assessment learns the lesson and its milestones from content's events.
        self.wait("assessment seeing the lesson", lambda: self.http.get(
            "/api/assessment/v1/questions", params={"lesson_id": lesson["id"]},
            headers={"Authorization": f"Bearer {teacher}"}).status_code == 200)
        questions = []
        for index, prompt, explanation, content in QUESTIONS:
            milestone_id = milestones[index]["id"]
            self.wait("assessment seeing the milestones", lambda m=milestone_id: self.http.put(
                f"/api/assessment/v1/milestones/{m}/policy", json={"max_attempts": 3, "retry_penalty": 0.25},
                headers={"Authorization": f"Bearer {teacher}"}).status_code == 200)
            questions.append(self.call("POST", "/api/assessment/v1/questions", teacher, json={
                "lesson_id": lesson["id"], "milestone_id": milestone_id, "prompt": prompt,
                "explanation": explanation, "content": content, "approve": True}))
        # content learns of the approvals from assessment's events a moment later, and refuses to
        # publish a required milestone without an approved question until then.
        self.wait("content seeing the approved questions", lambda: self.http.post(
            f"/api/content/v1/lessons/{lesson['id']}/publish",
            headers={"Authorization": f"Bearer {teacher}"}).status_code == 200)
        print(f"{len(questions)} approved questions of all six types; published")
        # A few AI drafts waiting in the teacher's review queue (the offline generator; logged as AI usage).
        job = self.call("POST", "/api/assessment/v1/generation-jobs", teacher, json={
            "lesson_id": lesson["id"], "count_per_milestone": 1, "types": ["MULTIPLE_CHOICE", "ORDERING"]})
        self.wait("the generation job", lambda: self.call(
            "GET", f"/api/assessment/v1/generation-jobs/{job['id']}", teacher)["status"] in ("SUCCEEDED", "FAILED"))
        print("AI drafts: one per milestone, pending review")

        # The student: 20 seconds watched on a laptop (heartbeats ten seconds apart, as a player sends them) …
        device = f"demo-laptop-{uuid.uuid4().hex[:6]}"
        for start in (0, 10):
            self.call("POST", "/api/analytics/v1/events", student, json={"device_id": device, "events": [
                {"type": "video.heartbeat", "lesson_id": lesson["id"], "video_id": video["id"],
                 "position": start + 10, "played": [{"start": start, "end": start + 10}]},
                {"type": "navigation", "path": f"/lessons/{lesson['id']}"} if start == 0 else
                {"type": "performance", "name": "video.startup_ms", "value": 420}]})
            if start == 0:
                time.sleep(10)
        # … and the first milestone's questions, once the lesson is published for assessment.
        self.wait("assessment seeing the publication", lambda: self.http.get(
            f"/api/assessment/v1/milestones/{milestones[0]['id']}/questions",
            headers={"Authorization": f"Bearer {student}"}).status_code == 200)
        answers = [{"option_ids": ["b"]}, {"option_ids": ["a"]}, {"value": True},
                   {"blanks": {"b1": "chlorophyll", "b2": "light"}}]
        targets = [questions[0], questions[0], questions[1], questions[2]]
        for question, answer in zip(targets, answers, strict=True):
            self.call("POST", "/api/analytics/v1/events", student, json={"device_id": device, "events": [
                {"type": "question.shown", "lesson_id": lesson["id"], "question_id": question["id"],
                 "milestone_id": milestones[0]["id"]}]})
            self.call("POST", f"/api/assessment/v1/questions/{question['id']}/attempts", student,
                      json={"answer": answer, "time_taken_ms": 6000})
        self.wait("progress projecting the student", lambda: self.call(
            "GET", f"/api/progress/v1/resume?lesson_id={lesson['id']}", student)["position"] >= 20)
        print("student: 20 s watched, the first milestone answered (one retry); analytics events recorded")
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateway", default=f"http://127.0.0.1:{os.environ.get('CUEPOINT_GATEWAY_PORT', '8080')}",
                        help="the gateway to seed through (default: 127.0.0.1 on CUEPOINT_GATEWAY_PORT, else 8080)")
    parser.add_argument("--video-dir", type=Path, default=Path(__file__).resolve().parents[2] / ".local" / "demo")
    args = parser.parse_args()
    try:
        return Demo(args.gateway, args.video_dir).run()
    except httpx.HTTPError as error:
        print(f"demo: cannot reach the gateway at {args.gateway} ({error}); is the platform up (make up)?",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
