"""The client event stream: publishes recorded client events to ``analytics.client-events`` keyed by
user, and returns only once the broker acknowledged them all.

Client telemetry does not go through the outbox: it is the ingest's throughput path (tens of
thousands of events a second, bench/analytics_ingest.py), and nothing in analytics' database
changes with it; a batch the broker does not acknowledge is answered 503 and the client retries it
(the event ids make the retry safe: domain.telemetry.retry_safe_event_id)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from cuepoint.contracts.topics import CLIENT_EVENTS
from cuepoint.runtime.errors import Unavailable
from cuepoint.runtime.kafka import request_producer

log = logging.getLogger(__name__)

# A broker that is down or frozen is answered within this (a 503 the client retries), not after 15 s.
ACK_TIMEOUT = 5.0
RETRY_AFTER_SECONDS = 5


class ClientEventStream:
    def __init__(self, bootstrap_servers: str, *, topic_prefix: str, ack_timeout: float = ACK_TIMEOUT) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic_prefix + CLIENT_EVENTS.name
        self.ack_timeout = ack_timeout
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = request_producer(self.bootstrap_servers, client_id="analytics-ingest",
                                            ack_timeout=self.ack_timeout)
                try:
                    await asyncio.wait_for(producer.start(), timeout=self.ack_timeout)
                except (KafkaError, TimeoutError, OSError) as error:
                    await producer.stop()
                    raise Unavailable("the event stream is unavailable; retry the batch later",
                                      retry_after=RETRY_AFTER_SECONDS) from error
                self._producer = producer
            return self._producer

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def publish(self, envelopes: list[Any]) -> None:
        producer = await self._started()
        try:
            async with asyncio.timeout(self.ack_timeout):  # waiting for metadata included
                sends = [await producer.send(self.topic, envelope.model_dump_json().encode(),
                                             key=envelope.key.encode(),
                                             headers=[(k, v.encode()) for k, v in envelope.headers().items()])
                         for envelope in envelopes]
                await asyncio.gather(*sends)
        except (KafkaError, TimeoutError) as error:
            # Some of the batch may be stored all the same; a retry is safe (see retry_safe_event_id).
            log.warning("client events not acknowledged by the broker", extra={"events": len(envelopes),
                                                                              "error": repr(error)})
            raise Unavailable("the event stream did not acknowledge the batch; retry it",
                              retry_after=RETRY_AFTER_SECONDS) from error
