"""Kafka clients configured the one way Cuepoint uses them, and topic creation.

aiokafka defaults to ``acks=1`` and no idempotence; every producer here sets
``acks="all"`` and ``enable_idempotence=True`` explicitly.
"""

from __future__ import annotations

import argparse
import dataclasses
import asyncio
import logging
import sys

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError

from cuepoint.contracts.topics import Topic, all_topics

log = logging.getLogger(__name__)

PRODUCER_SETTINGS = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 5,
    "max_batch_size": 256 * 1024,
    # The time a batch may wait for a partition leader. Long, so a broker restart
    # stalls the relay instead of failing (and re-sending) batches.
    "request_timeout_ms": 120_000,
}


def relay_producer(bootstrap_servers: str, *, client_id: str) -> AIOKafkaProducer:
    """No linger: the relay hands the producer every row it read at once, so they batch without
    waiting; a lone event (an answer on its way to the teacher's view, issue 21's R5) need not wait
    5 ms for company that is not coming."""
    return AIOKafkaProducer(bootstrap_servers=bootstrap_servers, client_id=client_id,
                            **{**PRODUCER_SETTINGS, "linger_ms": 0})


def request_producer(bootstrap_servers: str, *, client_id: str, ack_timeout: float) -> AIOKafkaProducer:
    """A producer that answers an HTTP request: the same guarantees as the relay's, but a batch the
    brokers do not acknowledge within ``ack_timeout`` fails (the request answers 503 and the client
    retries) instead of waiting minutes for a leader as the relay does."""
    return AIOKafkaProducer(bootstrap_servers=bootstrap_servers, client_id=client_id,
                            **{**PRODUCER_SETTINGS, "request_timeout_ms": int(ack_timeout * 1000)})


def prefixed(topics: list[Topic], prefix: str) -> list[Topic]:
    return [dataclasses.replace(topic, name=prefix + topic.name) for topic in topics]


async def ensure_topics(
    bootstrap_servers: str, topics: list[Topic], *, replication_factor: int = 1, timeout: float = 60
) -> list[str]:
    """Creates the topics that do not exist yet and sets the registry's configuration on those that
    do (a bound changed in the registry, e.g. a compaction lag, reaches the running brokers);
    returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [topic for topic in topics if topic.name not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [
                        NewTopic(topic.name, topic.partitions, replication_factor, topic_configs=topic.config())
                        for topic in missing
                    ]
                )
            except TopicAlreadyExistsError:
                pass  # another process created them meanwhile
        present = [topic for topic in topics if topic.name in existing]
        if present:
            # AlterConfigs replaces a topic's dynamic configuration as a whole: the registry's is all of it.
            responses = await admin.alter_configs(
                [ConfigResource(ConfigResourceType.TOPIC, topic.name, configs=topic.config()) for topic in present]
            )
            refused = [(name, message) for response in responses
                       for code, message, _type, name in response.resources if code != 0]
            if refused:
                raise RuntimeError(f"the brokers refused the registry's topic configuration: {refused}")
        return [topic.name for topic in missing]
    finally:
        await admin.close()


async def kafka_reachable(bootstrap_servers: str, timeout: float = 2.0) -> bool:
    """True when the cluster answers a metadata request within ``timeout``."""
    from aiokafka.client import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        return True
    except Exception:
        return False
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cuepoint.runtime.kafka",
        description="Creates every topic of the contracts' registry (and its .dlt) that does not exist yet.",
    )
    parser.add_argument("command", choices=["ensure-topics", "list"])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="host:port of the broker (default: %(default)s)")
    parser.add_argument("--replication-factor", type=int, default=1)
    parser.add_argument("--prefix", default="", help="topic name prefix (CUEPOINT_TOPIC_PREFIX)")
    args = parser.parse_args(argv)
    if args.command == "list":
        for topic in all_topics():
            print(f"{topic.name:32} partitions={topic.partitions:<3} {topic.config()}")
        return 0
    topics = prefixed(all_topics(), args.prefix)
    created = asyncio.run(ensure_topics(args.bootstrap, topics, replication_factor=args.replication_factor))
    print(f"topics: {len(topics)} in the registry, {len(created)} created" + (f": {', '.join(created)}" if created else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
