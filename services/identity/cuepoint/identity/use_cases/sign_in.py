"""Signing in with a password: throttled, audited, and telling why an account may not sign in only
once its password proved right."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from cuepoint.contracts import identity as events
from cuepoint.runtime.errors import TooManyRequests, Unauthenticated
from cuepoint.runtime.secrets import Keyring
from cuepoint.runtime.unit_of_work import UnitsOfWork

from ..domain import sessions, throttle
from ..domain.users import ERASED, User, normalize_email
from ..domain.tenants import normalize_slug
from ..security import Passwords, SigningKeys
from ..settings import IdentitySettings
from ..unit_of_work import IdentityUnitOfWork
from . import now
from .configs import config_value
from .sessions import ClientInfo, TokenPair, open_session

INVALID_CREDENTIALS = "the email or password is wrong"


@dataclass(frozen=True)
class SignIn:
    tenant_slug: str
    email: str
    password: str
    client: ClientInfo = ClientInfo()


def _digest(value: str, settings: IdentitySettings) -> str:
    """Throttle subjects are keyed hashes (HMAC-SHA256 under a key derived from the master key): the table
    holds no email or client address, and one cannot be confirmed by hashing a guess (README "Sensitive
    fields"). After a key rotation counters start afresh, as after 15 quiet minutes."""
    key = Keyring.from_settings(settings).derive("identity.throttle-subjects")
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


async def sign_in(command: SignIn, units: UnitsOfWork[IdentityUnitOfWork], *, passwords: Passwords,
                  keys: SigningKeys, settings: IdentitySettings) -> TokenPair:
    email = normalize_email(command.email)
    client = command.client
    address = _digest(f"address:{client.ip_address or 'unknown'}", settings)
    async with units(None) as uow:
        tenant = await uow.tenants.by_slug(normalize_slug(command.tenant_slug))
        account = _digest(f"{tenant.id if tenant else command.tenant_slug}:{email}", settings)
        await _check_throttle(uow, [(throttle.ACCOUNT_FROM_ADDRESS, f"{account}:{address}"),
                                    (throttle.ADDRESS, address)])
        if tenant is None:
            await _check_throttle(uow, [(throttle.ACCOUNT_FROM_NEW_ADDRESS, account)])
    user: User | None = None
    if tenant is not None:
        async with units(tenant.id) as uow:
            user = await uow.users.by_email(email)
            # The account-wide counter spares an address the account has signed in from before: the
            # address the connection came from (forwarded only by the trusted gateway), never a device_id,
            # which is a string the client chooses (issue 16, finding 6).
            known_address = (user is not None and client.ip_address is not None
                             and await uow.auth_sessions.signed_in_from(user.id, client.ip_address))
            if not known_address:
                await _check_throttle(uow, [(throttle.ACCOUNT_FROM_NEW_ADDRESS, account)])
    password_ok = await passwords.verify(user.password_hash if user else None, command.password)

    async with units(user.tenant_id if user else None) as uow:
        if not password_ok or user is None or user.status == ERASED:
            for rule, subject in [(throttle.ACCOUNT_FROM_ADDRESS, f"{account}:{address}"),
                                  (throttle.ADDRESS, address), (throttle.ACCOUNT_FROM_NEW_ADDRESS, account)]:
                await uow.throttle.record_failure(rule, subject)
            if user is not None:  # audited: a refused sign-in to an account that exists
                await _sign_in_failed(uow, user, "erased" if user.status == ERASED else "wrong-password")
            failed = True
        else:
            failed = False
            await uow.throttle.forget([f"{account}:{address}", account])
    if failed:
        raise Unauthenticated(INVALID_CREDENTIALS)
    # The password is right: now it is safe to say why the account cannot log in.
    assert tenant is not None and user is not None
    required = False
    if not user.email_verified:
        async with units(tenant.id) as uow:
            required = bool(await config_value(uow, "identity.requireEmailVerification"))
    refusal = sessions.sign_in_refusal(tenant, user, verification_required=required)
    if refusal is not None:
        async with units(tenant.id) as uow:
            await _sign_in_failed(uow, user, refusal.reason)
        raise refusal.error
    new_hash = await passwords.hash(command.password) if passwords.needs_rehash(user.password_hash) else None
    async with units(tenant.id) as uow:
        values: dict[str, Any] = {"last_login_at": now()}
        if new_hash:
            values["password_hash"] = new_hash
        await uow.users.update(user.id, **values)
        pair = await open_session(uow, user, client, keys=keys, settings=settings)
        await uow.emit(events.UserSignedIn(user_id=user.id, session_id=pair.session_id), actor_id=user.id)
    return pair


async def _sign_in_failed(uow: IdentityUnitOfWork, user: User, reason: str) -> None:
    # No actor: nobody proved who they are; the account named is the target.
    await uow.emit(events.UserSignInFailed(user_id=user.id, reason=reason), tenant_id=user.tenant_id)


async def _check_throttle(uow: IdentityUnitOfWork, subjects: list[tuple[throttle.Rule, str]]) -> None:
    for rule, subject in subjects:
        counted = await uow.throttle.failures(rule, subject)
        if counted is None:
            continue
        wait = throttle.remaining_wait(rule, *counted, now())
        if wait > 0:
            raise TooManyRequests("too many failed attempts; wait before trying again", retry_after=int(wait) + 1)
