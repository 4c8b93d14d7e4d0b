"""ensure_topics brings existing topics to the registry's configuration: a platform whose topics
were created before a bound was added (identity.user-profiles' compaction lag) gets it on the
next `make infra` / provisioning, not only new installs."""

from __future__ import annotations

import dataclasses
import uuid

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from cuepoint.contracts.topics import USER_PROFILES
from cuepoint.runtime.kafka import ensure_topics


async def test_an_existing_topic_gets_the_registrys_configuration(infra) -> None:
    topic = dataclasses.replace(USER_PROFILES, name=f"{infra.topic_prefix}configs-{uuid.uuid4().hex[:6]}", partitions=1)
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap_servers)
    await admin.start()
    try:
        # As the topic was created before: compacted, none of the bounds.
        await admin.create_topics([NewTopic(topic.name, 1, 1, topic_configs={"cleanup.policy": "compact"})])
        assert await ensure_topics(infra.bootstrap_servers, [topic]) == []  # nothing created…
        described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic.name)])
        configs = {entry[0]: entry[1] for entry in described[0].resources[0][4]}
        assert {key: configs[key] for key in topic.config()} == topic.config()  # …and configured
        assert configs["segment.ms"] == "3600000" and configs["min.cleanable.dirty.ratio"] == "0.01"
    finally:
        await admin.delete_topics([topic.name])
        await admin.close()
