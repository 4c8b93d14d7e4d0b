"""Every service's local, cached view of the system configuration.

Reads the compacted ``identity.system-configs`` topic from the beginning (no consumer
group: every process wants all of it), then follows it. ``get`` resolves a key for a
tenant as tenant override → platform override → the default of ``contracts.configs``.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from cuepoint.contracts.configs import CONFIG_KEYS, resolve
from cuepoint.contracts.envelope import Envelope
from cuepoint.contracts.identity import SystemConfigChanged
from cuepoint.contracts.topics import SYSTEM_CONFIGS

from .metrics import CONFIG_RECORDS_REJECTED
from .topic_follower import TopicFollower

log = logging.getLogger(__name__)

REJECTED = CONFIG_RECORDS_REJECTED


class SystemConfigView:
    def __init__(self, bootstrap_servers: str, *, topic_prefix: str = "") -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic_prefix + SYSTEM_CONFIGS.name
        self._overrides: dict[tuple[str, str], Any] = {}
        self._follower = TopicFollower(self.topic, bootstrap_servers, name="system-config-view",
                                       apply=lambda records: [self.apply(record.value) for record in records])
        self.loaded = self._follower.loaded

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
        return self._follower.following()

    async def start(self, timeout: float = 30) -> None:
        """Loads the whole topic, then keeps following it in the background."""
        await self._follower.load(timeout)

    async def stop(self) -> None:
        await self._follower.stop()
