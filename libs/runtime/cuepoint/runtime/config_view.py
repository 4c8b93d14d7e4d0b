"""Every service's local, cached view of the system configuration.

Reads the compacted ``identity.system-configs`` topic from the beginning (no consumer
group: every process wants all of it), then follows it. ``get`` resolves a key for a
tenant as tenant override → platform override → the default of ``contracts.configs``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from cuepoint.contracts.configs import CONFIG_KEYS, resolve
from cuepoint.contracts.envelope import Envelope
from cuepoint.contracts.identity import SystemConfigChanged
from cuepoint.contracts.topics import SYSTEM_CONFIGS

from .metrics import CONFIG_RECORDS_REJECTED

log = logging.getLogger(__name__)

REJECTED = CONFIG_RECORDS_REJECTED


class SystemConfigView:
    def __init__(self, bootstrap_servers: str, *, topic_prefix: str = "") -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic_prefix + SYSTEM_CONFIGS.name
        self._overrides: dict[tuple[str, str], Any] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.loaded = asyncio.Event()

    def get(self, key: str, tenant_id: UUID | str | None = None) -> Any:
        if key not in CONFIG_KEYS:
            raise KeyError(f"unknown config key {key!r}")
        tenant_value = self._overrides.get((str(tenant_id), key)) if tenant_id else None
        return resolve(key, tenant_value, self._overrides.get(("platform", key)))

    def apply(self, value: bytes | None) -> None:
        """Applies one record; never raises. A record this process cannot use (not an envelope, or a
        value its key's type refuses — say one written before the type was tightened) is logged,
        counted and skipped: the last good value stays, and the records after it still apply. The
        topic is compacted, so a bad record may stay there for good; it must not stop the view."""
        if value is None:
            return
        key = "(unparsed)"
        try:
            change = Envelope[SystemConfigChanged].model_validate_json(value).data
            key = change.key if change.key in CONFIG_KEYS else "(unknown)"
            scope = str(change.scope_tenant_id) if change.scope_tenant_id else "platform"
            if change.is_default or change.value is None:
                self._overrides.pop((scope, change.key), None)
            elif change.key in CONFIG_KEYS:  # a key this version does not know yet: nothing to keep
                self._overrides[(scope, change.key)] = CONFIG_KEYS[change.key].validate(change.value)
        except ValidationError as error:
            REJECTED.labels(key).inc()
            log.error("rejected a system-config record; the last good value stays",
                      extra={"topic": self.topic, "key": key, "error": str(error)})

    def healthy(self) -> bool:
        """Loaded, and still following the topic (for readiness)."""
        return self.loaded.is_set() and self._task is not None and not self._task.done()

    async def start(self, timeout: float = 30) -> None:
        """Loads the whole topic, then keeps following it in the background."""
        # Without a group, aiokafka assigns every partition of the subscribed topic.
        consumer = AIOKafkaConsumer(self.topic, bootstrap_servers=self.bootstrap_servers, enable_auto_commit=False,
                                    group_id=None, auto_offset_reset="earliest")
        try:
            await consumer.start()
        except BaseException:
            await consumer.stop()  # a consumer that could not bootstrap still holds its client
            raise
        self._consumer = consumer
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not consumer.assignment():
            if loop.time() > deadline:
                raise LookupError(f"topic {self.topic} has no partitions (does it exist? run make infra)")
            await asyncio.sleep(0.05)
        partitions = sorted(consumer.assignment())
        end = await consumer.end_offsets(partitions)
        while any([await consumer.position(tp) < end[tp] for tp in partitions]):
            if loop.time() > deadline:
                raise TimeoutError(f"could not load {self.topic} within {timeout}s")
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    self.apply(record.value)
        self.loaded.set()
        self._task = asyncio.create_task(self._follow(), name="system-config-view")

    async def _follow(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                for records in (await self._consumer.getmany(timeout_ms=1000)).values():
                    for record in records:
                        self.apply(record.value)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # keep following through broker restarts
                log.warning("system-config view lost Kafka, retrying", extra={"error": repr(error)})
                await asyncio.sleep(1)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._consumer is not None:
            await self._consumer.stop()
