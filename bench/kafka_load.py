"""What the benchmarks share: loading a topic with pre-built envelopes fast, and the raw read baseline."""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


async def produce(bootstrap: str, topic: str, envelopes: list) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=20,
                                max_batch_size=1 << 20)
    await producer.start()
    try:
        pending = []
        for envelope in envelopes:
            pending.append(await producer.send(topic, envelope.model_dump_json().encode(), key=envelope.key.encode(),
                                               headers=[(k, v.encode()) for k, v in envelope.headers().items()]))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def raw_read(bootstrap: str, topic: str, count: int) -> float:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"bench-raw-{uuid.uuid4().hex[:6]}",
                                auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=2000)
    await consumer.start()
    try:
        seen, started = 0, time.perf_counter()
        while seen < count:
            for records in (await consumer.getmany(timeout_ms=500, max_records=2000)).values():
                seen += len(records)
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()
