"""Access-token verification for every service, against identity's cached JWKS.

Tokens are EdDSA (Ed25519) JWTs with ``kid``; only allow-listed algorithms are accepted
(so ``alg=none`` and HS256-with-the-public-key are refused), and ``aud``, ``exp``,
``iat``, ``sub``, ``tid``, ``role``, ``jti`` and ``sid`` are required. An unknown ``kid`` triggers
one JWKS refresh (rate-limited), which is how rotated keys are picked up. A token whose session
(``sid``) identity has ended is refused, from the revocation list the verifier is given
(:mod:`.revocations`), within moments of the revocation. A client sends the same token with every
request for its lifetime, so a verified token is kept (bounded, for ``verified_for`` seconds): the
signature is checked once, its expiry and its session's revocation on every request.

FastAPI: ``Depends(authenticated)`` gives the :class:`CurrentUser`; ``require_role(…)``
guards a route. Failures answer 401 problem+json with ``WWW-Authenticate: Bearer``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from uuid import UUID

import httpx
import jwt
from fastapi import Depends, Request
from jwt import PyJWK

from .actor import CurrentUser, Role  # noqa: F401 - the names services import from here too
from .http import Problem
from .logging import add_to_log_context
from .revocations import RevocationsUnavailable

# Who may pass a route's guard, weakest first (route_gate).
PUBLIC, SIGNED_IN, PLATFORM_ADMIN = "public", "signed in", "platform admin"
GATES = (PUBLIC, SIGNED_IN, "student", "teacher", "admin", PLATFORM_ADMIN)

ALLOWED_ALGORITHMS = ("EdDSA",)
REQUIRED_CLAIMS = ("sub", "tid", "role", "aud", "exp", "iat", "jti", "sid")


class InvalidToken(Exception):
    pass


class KeySource(Protocol):
    async def key(self, kid: str) -> PyJWK | None: ...


class Revocations(Protocol):
    async def revoked(self, session_id: UUID) -> bool: ...


class JwksCache:
    """Public keys fetched from a JWKS URL, refreshed every ``ttl`` seconds or on an unknown kid.

    An unknown kid refreshes at most once per ``min_refresh_interval`` (a flood of made-up kids
    costs identity one request per interval), and a token that arrives inside the interval waits
    for its end rather than failing: a new tenant's key, published a moment after the last
    refresh, verifies within a second instead of answering 401 for the rest of the interval."""

    def __init__(self, url: str, *, ttl: float = 300, min_refresh_interval: float = 1.0,
                 client: httpx.AsyncClient | None = None) -> None:
        self.url = url
        self.ttl = ttl
        self.min_refresh_interval = min_refresh_interval
        self._client = client
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> PyJWK | None:
        if kid not in self._keys or time.monotonic() - self._fetched_at > self.ttl:
            requested = time.monotonic()
            async with self._lock:
                if kid in self._keys and time.monotonic() - self._fetched_at <= self.ttl:
                    return self._keys[kid]  # another request refreshed while this one waited
                if self._fetched_at >= requested:
                    return self._keys.get(kid)  # refreshed after this request came: that answer counts
                wait = self.min_refresh_interval - (time.monotonic() - self._fetched_at)
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._refresh()
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        client = self._client or httpx.AsyncClient(timeout=5)
        try:
            response = await client.get(self.url)
            response.raise_for_status()
            self._keys = keys_from_jwks(response.json())
            self._fetched_at = time.monotonic()
        finally:
            if self._client is None:
                await client.aclose()


def keys_from_jwks(document: dict[str, Any]) -> dict[str, PyJWK]:
    keys = {}
    for entry in document.get("keys", []):
        if entry.get("kid") and entry.get("alg") in ALLOWED_ALGORITHMS:
            keys[entry["kid"]] = PyJWK(entry)
    return keys


class TokenVerifier:
    """``verify(token)`` → the :class:`CurrentUser` it was issued to, or :class:`InvalidToken`.

    Tokens verified are kept by their exact text (at most ``keep_verified``, the oldest let go first),
    each for ``verified_for`` seconds: checking an Ed25519 signature and decoding the claims was about
    a fifth of the playback lookup's time at the service. Within that minute a key withdrawn from the
    JWKS still admits the tokens already checked under it; expiry and revocation are never cached."""

    def __init__(self, keys: KeySource, *, audience: str, leeway: float = 5,
                 revocations: Revocations | None = None, verified_for: float = 60,
                 keep_verified: int = 20_000) -> None:
        self.keys = keys
        self.audience = audience
        self.leeway = leeway
        self.revocations = revocations
        self.verified_for = verified_for
        self.keep_verified = keep_verified
        self._verified: dict[str, tuple[CurrentUser, float, float]] = {}  # token → (user, exp, checked at)

    async def verify(self, token: str) -> CurrentUser:
        now = time.time()
        kept = self._verified.get(token)
        if kept is not None and now - kept[2] < self.verified_for:
            user, expires_at, _ = kept
            if now >= expires_at + self.leeway:
                del self._verified[token]
                raise InvalidToken("token expired")
        else:
            user, expires_at = await self._checked(token)
            if len(self._verified) >= self.keep_verified:
                del self._verified[next(iter(self._verified))]  # insertion order: the oldest
            self._verified[token] = (user, expires_at, now)
        if self.revocations is not None and await self.revocations.revoked(user.session_id):
            raise InvalidToken("this session has ended; log in again")
        return user

    async def _checked(self, token: str) -> tuple[CurrentUser, float]:
        """The token's user and expiry, its signature and claims checked."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise InvalidToken("malformed token") from error
        if header.get("alg") not in ALLOWED_ALGORITHMS:
            raise InvalidToken(f"algorithm {header.get('alg')!r} is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("token has no key id")
        try:
            key = await self.keys.key(kid)
        except httpx.HTTPError as error:
            raise InvalidToken("signing keys are unavailable") from error
        if key is None:
            raise InvalidToken("unknown signing key")
        try:
            claims = jwt.decode(token, key=key, algorithms=list(ALLOWED_ALGORITHMS), audience=self.audience,
                                leeway=self.leeway, options={"require": list(REQUIRED_CLAIMS)})
            user = CurrentUser(
                id=UUID(claims["sub"]), tenant_id=UUID(claims["tid"]), role=Role.parse(claims["role"]),
                session_id=UUID(claims["sid"]), platform_admin=bool(claims.get("platform_admin", False)),
                token_id=str(claims["jti"]),
            )
        except jwt.ExpiredSignatureError as error:
            raise InvalidToken("token expired") from error
        except (jwt.PyJWTError, ValueError, KeyError) as error:
            raise InvalidToken(str(error) or "invalid token") from error
        return user, float(claims["exp"])


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, type_="/problems/unauthorized",
                   headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{detail}"'})


def authentication(verifier_of: Callable[[Request], TokenVerifier]) -> Callable[[Request], Awaitable[CurrentUser]]:
    """A FastAPI dependency resolving the bearer token of the request to its user."""

    async def authenticated(request: Request) -> CurrentUser:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Problem(401, "Unauthorized", "a bearer access token is required", type_="/problems/unauthorized",
                          headers={"WWW-Authenticate": "Bearer"})
        try:
            user = await verifier_of(request).verify(token.strip())
            add_to_log_context(tenant_id=user.tenant_id, user_id=user.id)
            return user
        except InvalidToken as error:
            raise _unauthorized(str(error)) from error
        except RevocationsUnavailable as error:
            raise Problem(503, "Service Unavailable", str(error), type_="/problems/unavailable",
                          headers={"Retry-After": "5"}) from error

    authenticated.gate = SIGNED_IN  # type: ignore[attr-defined]
    return authenticated


def require_role(authenticated: Callable[..., Awaitable[CurrentUser]], role: Role) -> Callable[..., Awaitable[CurrentUser]]:
    async def guard(user: CurrentUser = Depends(authenticated)) -> CurrentUser:
        if not user.at_least(role):
            raise Problem(403, "Forbidden", f"this needs the {role.name.lower()} role", type_="/problems/forbidden")
        return user

    guard.gate = role.name.lower()  # type: ignore[attr-defined]
    return guard


def require_platform_admin(authenticated: Callable[..., Awaitable[CurrentUser]]) -> Callable[..., Awaitable[CurrentUser]]:
    async def guard(user: CurrentUser = Depends(authenticated)) -> CurrentUser:
        if not user.platform_admin:
            raise Problem(403, "Forbidden", "this needs a platform admin", type_="/problems/forbidden")
        return user

    guard.gate = PLATFORM_ADMIN  # type: ignore[attr-defined]
    return guard


def route_gate(route: Any) -> str:
    """Who may call a FastAPI route at all, from the guards among its dependencies: ``public``,
    ``signed in`` (any role), ``teacher``, ``admin`` or ``platform admin``. The finer rules (an
    author or an admin, a student's own data) are the use cases' and views', after this gate."""
    found = [PUBLIC]
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        gate = getattr(dependant.call, "gate", None)
        if gate is not None:
            found.append(gate)
        pending.extend(dependant.dependencies)
    return max(found, key=GATES.index)
