"""What the benchmarks share: loading a topic with pre-built envelopes, fast."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer


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
