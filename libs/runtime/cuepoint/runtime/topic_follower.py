"""A topic every process of a service reads whole, without a consumer group, and then follows:
the system-configuration view (config_view.py) and the list of revoked sessions (revocations.py).

``load`` reads from where ``seek`` puts each partition (default: the beginning) up to the end
offsets taken at the start, so the caller knows it has seen everything written before it
started; then a background task follows the topic through broker restarts. A load that fails
(no broker, no such topic, too slow) leaves nothing open behind it: the caller can try again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

log = logging.getLogger(__name__)

Records = Sequence[Any]  # aiokafka ConsumerRecords of one poll, every partition's together
Seek = Callable[[AIOKafkaConsumer, list[TopicPartition], dict[TopicPartition, int]], Awaitable[None]]


class TopicFollower:
    def __init__(self, topic: str, bootstrap_servers: str, *, apply: Callable[[Records], None], name: str,
                 seek: Seek | None = None, start_from: str = "earliest") -> None:
        """``apply`` gets each poll's records (never raises for a bad record: it logs and skips it);
        ``seek`` may move each partition before the load (it gets the end offsets)."""
        self.topic = topic
        self.bootstrap_servers = bootstrap_servers
        self.name = name
        self._apply = apply
        self._seek = seek
        self._start_from = start_from
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.loaded = asyncio.Event()

    def following(self) -> bool:
        """Loaded, and still following the topic (for readiness)."""
        return self.loaded.is_set() and self._task is not None and not self._task.done()

    async def load(self, timeout: float) -> None:
        """Reads the topic up to its end as of now, then follows it in the background."""
        # Without a group, aiokafka assigns every partition of the subscribed topic.
        consumer = AIOKafkaConsumer(self.topic, bootstrap_servers=self.bootstrap_servers, enable_auto_commit=False,
                                    group_id=None, auto_offset_reset=self._start_from)
        try:
            await consumer.start()
            await self._read_to_end(consumer, timeout)
        except BaseException:
            await consumer.stop()  # a consumer that could not bootstrap still holds its client
            raise
        self._consumer = consumer
        self.loaded.set()
        self._task = asyncio.create_task(self._follow(), name=self.name)

    async def _read_to_end(self, consumer: AIOKafkaConsumer, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not consumer.assignment():
            if loop.time() > deadline:
                raise LookupError(f"topic {self.topic} has no partitions (does it exist? run make infra)")
            await asyncio.sleep(0.05)
        partitions = sorted(consumer.assignment())
        end = await consumer.end_offsets(partitions)
        if self._seek is not None:
            await self._seek(consumer, partitions, end)
        while any([await consumer.position(tp) < end[tp] for tp in partitions]):
            if loop.time() > deadline:
                raise TimeoutError(f"could not load {self.topic} within {timeout}s")
            self._apply_poll(await consumer.getmany(timeout_ms=200))

    def _apply_poll(self, batches: dict[TopicPartition, list[Any]]) -> None:
        self._apply([record for records in batches.values() for record in records])

    async def _follow(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                self._apply_poll(await self._consumer.getmany(timeout_ms=1000))
            except asyncio.CancelledError:
                raise
            except Exception as error:  # keep following through broker restarts
                log.warning("lost Kafka while following a topic, retrying",
                            extra={"follower": self.name, "topic": self.topic, "error": repr(error)})
                await asyncio.sleep(1)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await consumer.stop()
        self.loaded.clear()
