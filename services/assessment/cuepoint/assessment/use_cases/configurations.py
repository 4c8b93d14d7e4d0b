"""AI provider configurations (admins): add, change, (de)activate, test the connection."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from cuepoint.contracts import assessment as events
from cuepoint.runtime.auth import CurrentUser
from cuepoint.runtime.clock import utc_now
from cuepoint.runtime.errors import Conflict, Invalid
from cuepoint.runtime.metrics import observe_ai_request
from cuepoint.runtime.secrets import SecretBox
from cuepoint.runtime.unit_of_work import UnitsOfWork

from ..domain.changes import as_json, changes_of
from ..domain.prompting import DEFAULT_PROMPT_TEMPLATE, Prices, TemplateProblem, check_template
from ..providers import ConnectionCheck, check_offline, check_openai, no_api_key
from ..unit_of_work import AssessmentUnitOfWork
from . import UNSET
from .generation import CONNECTION_TEST, RecordUsage, api_key_purpose, record_usage

CONFIGURATION_FIELDS = ("name", "provider", "model", "base_url", "temperature", "max_tokens", "prompt_template",
                        "input_price_per_1k", "output_price_per_1k", "is_active")



@dataclass(frozen=True)
class CreateConfiguration:
    actor: CurrentUser
    name: str
    provider: str
    model: str
    base_url: str | None = None
    temperature: Decimal = Decimal("0.2")
    max_tokens: int = 2000
    prompt_template: str | None = None  # None: the built-in template
    input_price_per_1k: Decimal = Decimal(0)
    output_price_per_1k: Decimal = Decimal(0)
    api_key: str | None = None
    is_active: bool = False


@dataclass(frozen=True)
class ConfigurationChanges:
    """What a change sets; a field left UNSET stays as it is. ``api_key`` "" removes the key."""

    model: str = UNSET
    base_url: str | None = UNSET
    temperature: Decimal = UNSET
    max_tokens: int = UNSET
    prompt_template: str = UNSET
    input_price_per_1k: Decimal = UNSET
    output_price_per_1k: Decimal = UNSET
    api_key: str | None = UNSET
    is_active: bool = UNSET

    def values(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not UNSET}


@dataclass(frozen=True)
class UpdateConfiguration:
    actor: CurrentUser
    configuration_id: uuid.UUID
    changes: ConfigurationChanges


@dataclass(frozen=True)
class TestConfiguration:
    __test__ = False  # not a pytest test class

    actor: CurrentUser
    configuration_id: uuid.UUID


@dataclass(frozen=True)
class ConnectionTested:
    configuration: Any
    check: ConnectionCheck
    usage_logged: bool


def _check_configuration(values: dict[str, Any], *, has_key: bool) -> None:
    try:
        check_template(values.get("prompt_template") or DEFAULT_PROMPT_TEMPLATE)
    except TemplateProblem as error:
        raise Invalid(str(error)) from error
    if values.get("provider") == "OPENAI" and values.get("is_active") and not has_key:
        raise Invalid("an active OPENAI configuration needs an api_key")


async def create_configuration(command: CreateConfiguration, uow: AssessmentUnitOfWork, *, box: SecretBox) -> Any:
    """A new configuration (its key stored encrypted); active, it switches off the provider's others."""
    actor = command.actor
    values = {name: getattr(command, name) for name in CONFIGURATION_FIELDS}
    values["prompt_template"] = command.prompt_template or DEFAULT_PROMPT_TEMPLATE
    _check_configuration(values, has_key=bool(command.api_key))
    configuration_id = uuid.uuid4()
    encrypted = box.encrypt(command.api_key.encode(), purpose=api_key_purpose(configuration_id)) \
        if command.api_key else None
    if await uow.configurations.named(command.name):
        raise Conflict(f"an AI configuration named {command.name!r} exists already")
    if command.is_active:
        await _deactivate_others(uow, actor, command.provider, configuration_id)
    await uow.configurations.add(id=configuration_id, tenant_id=actor.tenant_id, api_key_encrypted=encrypted,
                                 created_at=utc_now(), updated_at=utc_now(), **values)
    row = await uow.configurations.get(configuration_id, noun="configuration")
    await _emit_configuration_changed(uow, actor, "CREATED", None, row)
    return row


async def update_configuration(command: UpdateConfiguration, uow: AssessmentUnitOfWork, *, box: SecretBox) -> Any:
    actor, configuration_id = command.actor, command.configuration_id
    row = await uow.configurations.get(configuration_id, lock=True)
    changes = command.changes.values()
    if "api_key" in changes:
        api_key = changes.pop("api_key")
        changes["api_key_encrypted"] = (box.encrypt(api_key.encode(), purpose=api_key_purpose(configuration_id))
                                        if api_key else None)
    merged = {**row._asdict(), **changes}
    _check_configuration(merged, has_key=bool(merged["api_key_encrypted"]))
    if merged["is_active"]:
        await _deactivate_others(uow, actor, merged["provider"], configuration_id)
    await uow.configurations.update(configuration_id, updated_at=utc_now(), **changes)
    changed = await uow.configurations.get(configuration_id, noun="configuration")
    await _emit_configuration_changed(uow, actor, "UPDATED", row, changed)
    return changed


async def test_configuration(command: TestConfiguration, units: UnitsOfWork[AssessmentUnitOfWork], *,
                             box: SecretBox, deadline: float) -> ConnectionTested:
    """One tiny, bounded request to the configured provider. A failed test is an answer, not an error.
    Logged in ai_usage_logs only when the provider billed tokens for it: a refused or unreachable request
    cost nothing, and the built-in generator never costs anything."""
    actor = command.actor
    async with units(actor.tenant_id) as uow:
        row = await uow.configurations.get(command.configuration_id)
    # The request happens outside any transaction: a slow provider must not hold a connection.
    if row.provider == "OFFLINE":
        check = check_offline()
    elif not row.api_key_encrypted:
        check = no_api_key()
    else:
        api_key = box.decrypt(row.api_key_encrypted, purpose=api_key_purpose(row.id)).decode()
        check = await check_openai(model=row.model, api_key=api_key, base_url=row.base_url, deadline=deadline)
    prices = Prices(Decimal(row.input_price_per_1k), Decimal(row.output_price_per_1k))
    if check.latency_ms is not None:  # a request was made (a missing key makes none)
        observe_ai_request(provider=row.provider, request_type=CONNECTION_TEST, ok=check.ok,
                           tokens_in=check.tokens_in, tokens_out=check.tokens_out,
                           cost=float(prices.cost(check.tokens_in, check.tokens_out)), seconds=check.latency_ms / 1000)
    billed = check.tokens_in + check.tokens_out > 0
    if billed:
        async with units(actor.tenant_id) as uow:
            await record_usage(RecordUsage(
                tenant_id=actor.tenant_id, actor_id=actor.id, request_type=CONNECTION_TEST,
                configuration_id=row.id, job_id=None, provider=row.provider, model=row.model,
                prices=prices, tokens_in=check.tokens_in, tokens_out=check.tokens_out,
                response_time_ms=check.latency_ms or 0,
                error=check.detail), uow)
    return ConnectionTested(row, check, usage_logged=billed)


async def _emit_configuration_changed(uow: AssessmentUnitOfWork, actor: CurrentUser, change: str,
                                      before: Any, after: Any) -> None:
    """Announced without the key; an update that changed nothing is not announced."""
    key_changed = (before.api_key_encrypted if before is not None else None) != after.api_key_encrypted
    if before is None:
        names = list(CONFIGURATION_FIELDS)
        previous: dict[str, Any] = {}
    else:
        names = changes_of(before, after._asdict(), CONFIGURATION_FIELDS)
        previous = {name: as_json(getattr(before, name)) for name in names}
        if not names and not key_changed:
            return
    await uow.emit(events.AIConfigurationChanged(
        configuration_id=after.id, change=change, name=after.name, provider=after.provider, model=after.model,
        is_active=after.is_active, has_api_key=after.api_key_encrypted is not None,
        api_key_changed=key_changed if before is not None else after.api_key_encrypted is not None,
        changed_fields=names, before=previous, after={name: as_json(getattr(after, name)) for name in names}),
        actor_id=actor.id)


async def _deactivate_others(uow: AssessmentUnitOfWork, actor: CurrentUser, provider: str, keep: uuid.UUID) -> None:
    """One active configuration per provider, as the seed's lookup expects; each one switched off is
    announced too."""
    for row in await uow.configurations.deactivate_others(provider, keep):
        await uow.emit(events.AIConfigurationChanged(
            configuration_id=row.id, change="DEACTIVATED", name=row.name, provider=row.provider, model=row.model,
            is_active=False, has_api_key=row.api_key_encrypted is not None, api_key_changed=False,
            changed_fields=["is_active"], before={"is_active": True}, after={"is_active": False}),
            actor_id=actor.id)
