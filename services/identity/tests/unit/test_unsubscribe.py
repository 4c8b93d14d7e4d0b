"""Unsubscribe links: only the key that signed one opens it, and it names one notification."""

from __future__ import annotations

import uuid

import pytest

from cuepoint.identity.domain.tokens import MalformedToken
from cuepoint.identity.domain.unsubscribe import Unsubscription, sign, verify
from cuepoint.identity.domain.users import with_article

pytestmark = pytest.mark.unit


def test_a_signed_link_opens_with_its_key_only() -> None:
    what = Unsubscription(uuid.uuid4(), uuid.uuid4(), "email_grades")
    token = sign(b"k" * 32, what)
    assert verify(b"k" * 32, token) == what
    payload, _, signature = token.partition(".")
    for forged in (sign(b"x" * 32, what), f"{payload}.{signature[:-2]}AA", f"{payload}x.{signature}", "nonsense", ""):
        with pytest.raises(MalformedToken):
            verify(b"k" * 32, forged)
    with pytest.raises(MalformedToken):  # a notification that does not exist, even signed
        verify(b"k" * 32, sign(b"k" * 32, Unsubscription(what.tenant_id, what.user_id, "theme")))


def test_roles_take_their_article() -> None:
    assert [with_article(r) for r in ("admin", "teacher", "student")] == ["an admin", "a teacher", "a student"]


@pytest.mark.parametrize("token", ["é.é", "abc.\u00ff", "\u2603", "payload.sig\u0301"])
def test_a_token_with_characters_no_link_has_is_refused_not_an_error(token: str) -> None:
    # Found by the fuzz test: compare_digest raised TypeError on non-ASCII text (a 500).
    with pytest.raises(MalformedToken):
        verify(b"k" * 32, token)
