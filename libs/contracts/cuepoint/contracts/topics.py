"""Every Kafka topic of the platform: name, partitions, retention and cleanup policy.

``deploy`` creates them from this registry (``python -m cuepoint.runtime.topics``),
and each consumer group gets a dead-letter topic ``<topic>.dlt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SERVICES: tuple[str, ...] = ("identity", "content", "assessment", "progress", "analytics")
"""The five services; each owns a PostgreSQL schema of the same name."""

HOUR_MS = 60 * 60 * 1000
DAY_MS = 24 * HOUR_MS
FOREVER = -1
DEAD_LETTER_RETENTION_MS = 14 * DAY_MS
DEAD_LETTER_SUFFIX = ".dlt"


@dataclass(frozen=True)
class Topic:
    name: str
    producer: str
    description: str
    partitions: int = 6
    retention_ms: int = FOREVER
    cleanup_policy: Literal["delete", "compact"] = "delete"
    other_producers: tuple[str, ...] = ()
    """Services besides ``producer`` that publish to the topic (``privacy.export-parts``)."""

    @property
    def producers(self) -> tuple[str, ...]:
        return (self.producer, *self.other_producers)

    @property
    def dead_letter(self) -> "Topic":
        return Topic(
            name=self.name + DEAD_LETTER_SUFFIX,
            producer=self.producer,
            description=f"Messages of {self.name} that a consumer could not decode, validate or handle.",
            partitions=1,
            retention_ms=DEAD_LETTER_RETENTION_MS,
        )

    def config(self) -> dict[str, str]:
        """Broker-side topic configuration."""
        config = {"cleanup.policy": self.cleanup_policy}
        if self.cleanup_policy == "delete":
            config["retention.ms"] = str(self.retention_ms)
        else:
            # Compacted topics keep the latest value per key forever; tombstones
            # (erasure) are removed a day after compaction. An older value must not outlive
            # its successor (an erased user's profile its tombstone) by more than a stated bound
            # (README, Privacy): the active segment, which is never compacted, rolls at the
            # first write after an hour; a record is compacted at most an hour after it became
            # compactable, whatever share of the log is dirty (the default ratio of 0.5 would
            # leave it for days on a topic that grows slowly).
            config["delete.retention.ms"] = str(DAY_MS)
            config["min.compaction.lag.ms"] = "0"
            config["segment.ms"] = str(HOUR_MS)
            config["max.compaction.lag.ms"] = str(HOUR_MS)
            config["min.cleanable.dirty.ratio"] = "0.01"
        return config


IDENTITY_EVENTS = Topic("identity.events", "identity", "Tenants, users, roles, preferences, configs (ids only, no personal data).")
CONTENT_EVENTS = Topic("content.events", "content", "Lessons, chapters, videos, transcripts and milestones.")
ASSESSMENT_EVENTS = Topic("assessment.events", "assessment", "Questions, their review, attempts and grades, AI usage.")
PROGRESS_EVENTS = Topic("progress.events", "progress", "Video and lesson completion and progress.")
CLIENT_EVENTS = Topic(
    "analytics.client-events",
    "analytics",
    "Raw client telemetry accepted by the ingest API (playback, interactions, navigation, errors).",
    partitions=12,
    retention_ms=30 * DAY_MS,
)
USER_PROFILES = Topic(
    "identity.user-profiles",
    "identity",
    "Personal data (names, email) keyed by user id; erased with a tombstone.",
    cleanup_policy="compact",
)
SYSTEM_CONFIGS = Topic(
    "identity.system-configs", "identity", "The current value of each system config, keyed by config key.", cleanup_policy="compact"
)
EXPORT_PARTS = Topic(
    "privacy.export-parts",
    "content",
    "A person's data export, one part per service, sealed to the export's public key (only identity, which "
    "asked for it, can open it, and only until it assembles the archive); kept a day. Not for the data team: "
    "it is personal data, unreadable to anyone but the person's export.",
    partitions=3,
    retention_ms=DAY_MS,
    other_producers=("assessment", "progress", "analytics"),
)

TOPICS: tuple[Topic, ...] = (
    IDENTITY_EVENTS,
    CONTENT_EVENTS,
    ASSESSMENT_EVENTS,
    PROGRESS_EVENTS,
    CLIENT_EVENTS,
    USER_PROFILES,
    SYSTEM_CONFIGS,
    EXPORT_PARTS,
)
TOPICS_BY_NAME = {topic.name: topic for topic in TOPICS}


def all_topics() -> list[Topic]:
    """Every topic to create, dead-letter topics included."""
    return [*TOPICS, *(topic.dead_letter for topic in TOPICS)]


def dead_letter_topic(topic: str) -> str:
    return topic + DEAD_LETTER_SUFFIX
