"""Password hashing (argon2id) and access-token signing (EdDSA keys with rotation)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt import PyJWK
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cuepoint.runtime.auth import ALLOWED_ALGORITHMS, keys_from_jwks
from cuepoint.runtime.secrets import SecretBox

from . import orm
from .domain.passwords import normalize

# OWASP: argon2id, 19 MiB, 2 iterations, 1 lane is the minimum; these meet it.
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_ITERATIONS = 2


class Passwords:
    """argon2id hashing, run off the event loop (it is CPU-bound by design)."""

    def __init__(self, memory_kib: int = ARGON2_MEMORY_KIB, iterations: int = ARGON2_ITERATIONS) -> None:
        self._hasher = PasswordHasher(time_cost=iterations, memory_cost=memory_kib, parallelism=1, hash_len=32,
                                      salt_len=16, type=Type.ID)
        self._dummy_hash = self._hasher.hash("an unguessable placeholder for timing")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, normalize(password))

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """Constant work whether or not the user exists: unknown users verify a dummy hash."""
        target = stored_hash or self._dummy_hash
        try:
            ok = await asyncio.to_thread(self._hasher.verify, target, normalize(password))
        except (VerificationError, InvalidHashError):
            return False
        return ok and stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey
    created_at: datetime


class SigningKeys:
    """EdDSA signing keys in ``signing_keys``, private halves encrypted at rest.

    The newest key signs. A key older than ``rotation`` is replaced on first use; a
    replaced key stays in the JWKS for ``rotation + publish_grace`` so every token it
    signed (15 minutes at most) still verifies after rotation.
    """

    PURPOSE = "identity.signing-key"

    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox, *, rotation: timedelta,
                 publish_grace: timedelta = timedelta(days=1), cache_seconds: float = 30) -> None:
        self.sessions = sessions
        self.box = box
        self.rotation = rotation
        self.publish_grace = publish_grace
        self.cache_seconds = cache_seconds
        self._current: SigningKey | None = None
        self._jwks: dict[str, Any] | None = None
        self._verification_keys: dict[str, PyJWK] = {}
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def current(self) -> SigningKey:
        async with self._lock:
            fresh = time.monotonic() - self._loaded_at < self.cache_seconds
            if self._current is None or not fresh or self._expired(self._current):
                await self._load(create_if_stale=True)
        assert self._current is not None
        return self._current

    async def jwks(self) -> dict[str, Any]:
        async with self._lock:
            if self._jwks is None or time.monotonic() - self._loaded_at >= self.cache_seconds:
                await self._load(create_if_stale=True)
        assert self._jwks is not None
        return self._jwks

    async def key(self, kid: str) -> PyJWK | None:
        """A verification key by id (the in-process key source of identity's own verifier)."""
        await self.jwks()  # reloads when the cache is stale
        if kid not in self._verification_keys:
            async with self._lock:
                await self._load(create_if_stale=False)
        return self._verification_keys.get(kid)

    async def rotate(self) -> str:
        async with self._lock:
            async with self.sessions() as session, session.begin():
                kid = await self._create(session)
            await self._load(create_if_stale=False)
        return kid

    def _expired(self, key: SigningKey) -> bool:
        return datetime.now(UTC) - key.created_at > self.rotation

    async def _load(self, *, create_if_stale: bool) -> None:
        async with self.sessions() as session, session.begin():
            rows = (await session.execute(select(orm.signing_keys).order_by(orm.signing_keys.c.created_at.desc()))).all()
            if create_if_stale and (not rows or datetime.now(UTC) - rows[0].created_at > self.rotation):
                # One replica creates the key; the others wait on the lock and then see it.
                await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended('identity-signing-key', 0))"))
                rows = (await session.execute(select(orm.signing_keys).order_by(orm.signing_keys.c.created_at.desc()))).all()
                if not rows or datetime.now(UTC) - rows[0].created_at > self.rotation:
                    await self._create(session)
                    rows = (await session.execute(
                        select(orm.signing_keys).order_by(orm.signing_keys.c.created_at.desc()))).all()
        newest = rows[0]
        private = serialization.load_pem_private_key(self.box.decrypt(newest.private_key_encrypted,
                                                                      purpose=self.PURPOSE), password=None)
        assert isinstance(private, Ed25519PrivateKey)
        self._current = SigningKey(newest.kid, private, newest.created_at)
        horizon = datetime.now(UTC) - self.rotation - self.publish_grace
        published = [row.public_jwk for row in rows if row is newest or row.created_at > horizon]
        self._jwks = {"keys": published}
        self._verification_keys = keys_from_jwks(self._jwks)  # parsed once per load, not per request
        self._loaded_at = time.monotonic()

    async def _create(self, session: AsyncSession) -> str:
        private = Ed25519PrivateKey.generate()
        kid = f"{datetime.now(UTC):%Y%m%d}-{uuid.uuid4().hex[:12]}"
        public_jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(private.public_key()))
        public_jwk.update({"kid": kid, "alg": ALLOWED_ALGORITHMS[0], "use": "sig"})
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        await session.execute(orm.signing_keys.insert().values(
            kid=kid, algorithm=ALLOWED_ALGORITHMS[0], private_key_encrypted=self.box.encrypt(pem, purpose=self.PURPOSE),
            public_jwk=public_jwk, created_at=datetime.now(UTC)))
        return kid


def sign_access_token(key: SigningKey, *, user_id: uuid.UUID, tenant_id: uuid.UUID, role: str, session_id: uuid.UUID,
                      platform_admin: bool, audience: str, issuer: str, ttl: timedelta) -> str:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": issuer, "sub": str(user_id), "tid": str(tenant_id), "role": role.lower(), "aud": audience,
        "iat": int(now.timestamp()), "exp": int((now + ttl).timestamp()), "jti": uuid.uuid4().hex,
        "sid": str(session_id),
    }
    if platform_admin:
        claims["platform_admin"] = True
    return jwt.encode(claims, key.private_key, algorithm=ALLOWED_ALGORITHMS[0], headers={"kid": key.kid})
