"""System configuration: an organisation's values (its admins) and the platform's (platform admins)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cuepoint.contracts import identity as events
from cuepoint.contracts.configs import resolve
from cuepoint.runtime.auth import CurrentUser

from ..domain import configs
from ..unit_of_work import IdentityUnitOfWork


@dataclass(frozen=True)
class SetConfig:
    """``value`` None: back to the platform value (or the default)."""

    actor: CurrentUser
    key: str
    value: Any
    platform: bool = False


async def set_config(command: SetConfig, uow: IdentityUnitOfWork) -> None:
    actor, key = command.actor, command.key
    stored = configs.stored_value(key, command.value)
    previous = await uow.configs.value(key, platform=command.platform)
    if stored is None:
        await uow.configs.delete(key, platform=command.platform)
    else:
        await uow.configs.set(key, stored, updated_by_id=actor.id, platform=command.platform)
    scope = None if command.platform else actor.tenant_id
    await uow.emit(events.SystemConfigChanged(
        config_id=f"{scope or 'platform'}:{key}", key=key, value=stored, scope_tenant_id=scope,
        is_default=stored is None, previous_value=previous), actor_id=actor.id)


async def config_value(uow: IdentityUnitOfWork, key: str) -> Any:
    """The value that applies to the tenant: its own, else the platform's, else the default."""
    return resolve(key, await uow.configs.value(key), await uow.configs.value(key, platform=True))
