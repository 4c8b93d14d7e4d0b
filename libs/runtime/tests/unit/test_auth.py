"""Token verification against a JWKS: allow-listed algorithm, required claims, key refresh."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cuepoint.runtime.auth import InvalidToken, JwksCache, Role, TokenVerifier
from cuepoint.runtime.revocations import KEEP_SECONDS, RevokedSessions

pytestmark = pytest.mark.unit


def _jwk(key: Ed25519PrivateKey, kid: str) -> dict:
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": "EdDSA", "use": "sig"}


def _claims(**changes: object) -> dict:
    now = int(time.time())
    claims = {"sub": str(uuid.uuid4()), "tid": str(uuid.uuid4()), "role": "teacher", "aud": "cuepoint",
              "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex, "sid": str(uuid.uuid4())}
    claims.update(changes)
    return claims


class JwksServer:
    """A JWKS endpoint whose published keys the test controls, counting fetches."""

    def __init__(self) -> None:
        self.keys: list[dict] = []
        self.fetches = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        return httpx.Response(200, json={"keys": self.keys})


async def test_verifies_and_picks_up_a_rotated_key_once() -> None:
    server = JwksServer()
    first, second = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    server.keys = [_jwk(first, "k1")]
    client = httpx.AsyncClient(transport=httpx.MockTransport(server.handler))
    verifier = TokenVerifier(JwksCache("http://identity/.well-known/jwks.json", client=client, min_refresh_interval=0),
                             audience="cuepoint")
    user = await verifier.verify(jwt.encode(_claims(), first, algorithm="EdDSA", headers={"kid": "k1"}))
    assert user.role is Role.TEACHER
    assert server.fetches == 1
    await verifier.verify(jwt.encode(_claims(), first, algorithm="EdDSA", headers={"kid": "k1"}))
    assert server.fetches == 1, "keys are cached"

    server.keys.append(_jwk(second, "k2"))
    await verifier.verify(jwt.encode(_claims(), second, algorithm="EdDSA", headers={"kid": "k2"}))
    assert server.fetches == 2, "an unknown kid refreshes the keys"
    with pytest.raises(InvalidToken, match="unknown signing key"):
        await verifier.verify(jwt.encode(_claims(), second, algorithm="EdDSA", headers={"kid": "k3"}))


async def test_rejects_what_it_must() -> None:
    server = JwksServer()
    key = Ed25519PrivateKey.generate()
    server.keys = [_jwk(key, "k1")]
    verifier = TokenVerifier(JwksCache("http://identity/jwks", client=httpx.AsyncClient(
        transport=httpx.MockTransport(server.handler))), audience="cuepoint")
    now = int(time.time())
    cases = {
        "wrong audience": jwt.encode(_claims(aud="other"), key, algorithm="EdDSA", headers={"kid": "k1"}),
        "expired": jwt.encode(_claims(exp=now - 100, iat=now - 700), key, algorithm="EdDSA", headers={"kid": "k1"}),
        "missing tid": jwt.encode({k: v for k, v in _claims().items() if k != "tid"}, key, algorithm="EdDSA",
                                  headers={"kid": "k1"}),
        "missing sid": jwt.encode({k: v for k, v in _claims().items() if k != "sid"}, key, algorithm="EdDSA",
                                  headers={"kid": "k1"}),
        "unknown role": jwt.encode(_claims(role="owner"), key, algorithm="EdDSA", headers={"kid": "k1"}),
        "HS256": jwt.encode(_claims(), server.keys[0]["x"], algorithm="HS256", headers={"kid": "k1"}),
        "no kid": jwt.encode(_claims(), key, algorithm="EdDSA"),
        "garbage": "a.b.c",
    }
    for label, token in cases.items():
        with pytest.raises(InvalidToken):
            await verifier.verify(token)
        assert label


async def test_a_key_published_just_after_a_refresh_is_picked_up_within_the_refresh_interval() -> None:
    """A new tenant's first token arrives seconds after the last refresh (the tenant's key was created
    a moment ago): it must verify after a short wait, not fail for the rest of the interval — while
    random unknown kids still cause at most one fetch per interval."""
    server = JwksServer()
    first, second = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    server.keys = [_jwk(first, "k1")]
    client = httpx.AsyncClient(transport=httpx.MockTransport(server.handler))
    verifier = TokenVerifier(JwksCache("http://identity/jwks", client=client, min_refresh_interval=0.3),
                             audience="cuepoint")
    await verifier.verify(jwt.encode(_claims(), first, algorithm="EdDSA", headers={"kid": "k1"}))
    server.keys.append(_jwk(second, "k2"))
    user = await verifier.verify(jwt.encode(_claims(), second, algorithm="EdDSA", headers={"kid": "k2"}))
    assert user.role is Role.TEACHER and server.fetches == 2
    for kid in ("x1", "x2", "x3"):
        with pytest.raises(InvalidToken, match="unknown signing key"):
            await verifier.verify(jwt.encode(_claims(), second, algorithm="EdDSA", headers={"kid": kid}))
    assert server.fetches <= 5, "unknown kids are throttled to one fetch per interval"


class Revoked:
    """A revocation list the test fills."""

    def __init__(self) -> None:
        self.sessions: set[uuid.UUID] = set()

    async def revoked(self, session_id: uuid.UUID) -> bool:
        return session_id in self.sessions


async def test_a_revoked_sessions_token_is_refused_and_other_sessions_are_not() -> None:
    server = JwksServer()
    key = Ed25519PrivateKey.generate()
    server.keys = [_jwk(key, "k1")]
    revocations = Revoked()
    verifier = TokenVerifier(JwksCache("http://identity/jwks", client=httpx.AsyncClient(
        transport=httpx.MockTransport(server.handler))), audience="cuepoint", revocations=revocations)
    ended, alive = _claims(), _claims()
    revocations.sessions.add(uuid.UUID(ended["sid"]))
    with pytest.raises(InvalidToken, match="session has ended"):
        await verifier.verify(jwt.encode(ended, key, algorithm="EdDSA", headers={"kid": "k1"}))
    user = await verifier.verify(jwt.encode(alive, key, algorithm="EdDSA", headers={"kid": "k1"}))
    assert user.session_id == uuid.UUID(alive["sid"])


def test_revoked_sessions_are_forgotten_once_their_tokens_have_expired() -> None:
    now = [1_000_000.0]
    sessions = RevokedSessions(clock=lambda: now[0])
    first, second, late = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    sessions.add([first], revoked_at=now[0])
    now[0] += 600
    sessions.add([second], revoked_at=now[0])
    sessions.add([late], revoked_at=now[0] - KEEP_SECONDS - 1)  # heard of after its tokens expired
    assert first in sessions and second in sessions and late not in sessions
    now[0] += KEEP_SECONDS - 600 + 1
    sessions.prune()
    assert first not in sessions and second in sessions
    assert len(sessions) == 1, "memory holds only the sessions whose tokens may still be alive"
    now[0] += 600
    sessions.prune()
    assert len(sessions) == 0


class CountingKeys:
    """A key source that counts how often a signature had to be checked (each check asks for the key)."""

    def __init__(self, keys: dict[str, object]) -> None:
        self.keys = keys
        self.asked = 0

    async def key(self, kid: str) -> object | None:
        self.asked += 1
        return self.keys.get(kid)


async def test_a_token_verified_once_is_not_checked_again_but_still_expires_and_is_still_revocable() -> None:
    """A client sends the same token with every request for its 15 minutes: its signature is checked
    once, not on each request (the playback lookup's budget, bench/milestone_lookup.py). What may change
    while it lives is still seen: its expiry, its session's revocation, a withdrawn key (after
    ``verified_for``), and a token that differs by one character is a different token."""
    key = Ed25519PrivateKey.generate()
    keys = CountingKeys({"k1": jwt.PyJWK(_jwk(key, "k1"))})
    revocations = Revoked()
    verifier = TokenVerifier(keys, audience="cuepoint", leeway=0, revocations=revocations, verified_for=60)
    claims = _claims()
    token = jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": "k1"})
    first = await verifier.verify(token)
    for _ in range(5):
        assert await verifier.verify(token) == first
    assert keys.asked == 1, "the signature was checked once"

    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(InvalidToken):
        await verifier.verify(tampered)

    revocations.sessions.add(uuid.UUID(claims["sid"]))
    with pytest.raises(InvalidToken, match="session has ended"):
        await verifier.verify(token)
    revocations.sessions.clear()

    expires = int(time.time()) + 2
    short = jwt.encode(_claims(exp=expires), key, algorithm="EdDSA", headers={"kid": "k1"})
    await verifier.verify(short)
    asked = keys.asked
    time.sleep(expires - time.time() + 0.05)
    with pytest.raises(InvalidToken, match="expired"):
        await verifier.verify(short)
    assert keys.asked == asked, "refused from what was kept, on its own expiry"

    stale = TokenVerifier(keys, audience="cuepoint", verified_for=0.2)
    await stale.verify(token)
    keys.keys.clear()  # the key withdrawn (e.g. compromised): refused once the verification is stale
    time.sleep(0.3)
    with pytest.raises(InvalidToken, match="unknown signing key"):
        await stale.verify(token)


async def test_the_verified_tokens_kept_are_bounded() -> None:
    key = Ed25519PrivateKey.generate()
    keys = CountingKeys({"k1": jwt.PyJWK(_jwk(key, "k1"))})
    verifier = TokenVerifier(keys, audience="cuepoint", keep_verified=3)
    tokens = [jwt.encode(_claims(), key, algorithm="EdDSA", headers={"kid": "k1"}) for _ in range(5)]
    for token in tokens:
        await verifier.verify(token)
    assert keys.asked == 5
    await verifier.verify(tokens[-1])
    assert keys.asked == 5, "the newest are kept"
    await verifier.verify(tokens[0])
    assert keys.asked == 6, "the oldest were let go: checked again"
