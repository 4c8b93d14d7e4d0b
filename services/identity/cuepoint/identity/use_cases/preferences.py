"""A user's preferences, changed by the user or by an unsubscribe link from a notification email."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cuepoint.contracts import identity as events
from cuepoint.runtime.auth import CurrentUser, Role
from cuepoint.runtime.errors import Invalid, NotFound
from cuepoint.runtime.unit_of_work import UnitsOfWork

from ..domain import unsubscribe as unsubscribe_links
from ..domain.preferences import Preferences, merge
from ..domain.tokens import MalformedToken
from ..domain.users import ERASED
from ..unit_of_work import IdentityUnitOfWork


@dataclass(frozen=True)
class UpdatePreferences:
    """``patch``: a partial document (nested objects merge)."""

    actor: CurrentUser
    patch: dict[str, Any]


@dataclass(frozen=True)
class Unsubscribe:
    token: str


async def update_preferences(command: UpdatePreferences, uow: IdentityUnitOfWork) -> Preferences:
    actor = command.actor
    stored = await uow.preferences.get(actor.id, lock=True)
    current = Preferences.model_validate(stored) if stored else Preferences()
    updated = merge(current, command.patch)
    document = updated.model_dump(mode="json")
    await uow.preferences.save(actor.id, actor.tenant_id, document)
    await uow.emit(events.PreferencesUpdated(user_id=actor.id, preferences=document), actor_id=actor.id)
    return updated


async def unsubscribe(command: Unsubscribe, units: UnitsOfWork[IdentityUnitOfWork], *, key: bytes) -> str:
    """Turns off the one email notification an unsubscribe link names; the name of it."""
    try:
        what = unsubscribe_links.verify(key, command.token)
    except MalformedToken as error:
        raise Invalid(str(error)) from error
    async with units(what.tenant_id) as uow:
        user = await uow.users.get(what.user_id)
        if user is None or user.status == ERASED:
            raise NotFound("no such subscriber")
    actor = CurrentUser(id=what.user_id, tenant_id=what.tenant_id, role=Role.parse(user.role))
    async with units(what.tenant_id) as uow:
        await update_preferences(UpdatePreferences(actor, {"notifications": {what.notification: False}}), uow)
    return what.notification
