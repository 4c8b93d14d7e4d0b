"""identity's pure rules."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from cuepoint.identity.domain import throttle
from cuepoint.identity.domain.passwords import MAX_LENGTH, password_problems
from cuepoint.identity.domain.preferences import Preferences, merge
from cuepoint.identity.domain.tokens import MalformedToken, new_token, parse_token
from cuepoint.identity.domain.users import may_invite
from cuepoint.runtime.auth import Role

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("password", ["Demo123!", "correct horse battery staple", "日本語のパスフレーズです", ("abcdefgh" * 16)[:MAX_LENGTH],
                                      "no Rules, just length"])
def test_acceptable_passwords(password: str) -> None:
    assert password_problems(password) == []


@pytest.mark.parametrize(("password", "problem"), [
    ("short", "at least 8"), ("x" * (MAX_LENGTH + 1), "at most"), ("password123", "common"), ("Password123", "common"),
    ("aaaaaaaaaa", "easy"), ("jane.doe@example.com", "easy"),
])
def test_refused_passwords(password: str, problem: str) -> None:
    problems = password_problems(password, email="jane.doe@example.com")
    assert any(problem in p for p in problems), problems


def test_tokens_round_trip_and_only_the_hash_is_kept() -> None:
    tenant = uuid.uuid4()
    token, stored = new_token(tenant)
    assert parse_token(token) == (tenant, stored)
    assert token.split(".", 1)[1].encode() not in stored
    other, _ = new_token(tenant)
    assert other != token
    for bad in ("", "no-dot", f"{tenant}.short", "not-a-uuid." + "x" * 40, f"{tenant}." + "x" * 300):
        with pytest.raises(MalformedToken):
            parse_token(bad)


@given(st.integers(min_value=0, max_value=10_000))
def test_delays_grow_but_never_lock_out(failures: int) -> None:
    for rule in (throttle.ACCOUNT_FROM_ADDRESS, throttle.ADDRESS, throttle.ACCOUNT_FROM_NEW_ADDRESS):
        delay = throttle.required_delay(rule, failures)
        assert 0 <= delay <= rule.max_delay_seconds
        assert delay <= throttle.required_delay(rule, failures + 1)
        assert (delay == 0) == (failures <= rule.free_failures)


def test_role_ordering_and_invitation_rules() -> None:
    assert Role.STUDENT < Role.TEACHER < Role.ADMIN
    assert may_invite(Role.ADMIN, Role.TEACHER) and may_invite(Role.ADMIN, Role.STUDENT)
    assert may_invite(Role.TEACHER, Role.STUDENT)
    assert not may_invite(Role.TEACHER, Role.TEACHER) and not may_invite(Role.STUDENT, Role.STUDENT)
    assert not may_invite(Role.ADMIN, Role.ADMIN)


def test_preferences_merge_nested_and_validate() -> None:
    merged = merge(Preferences(), {"theme": "dark", "learning": {"daily_goal_minutes": 45}})
    assert merged.theme == "dark" and merged.learning.daily_goal_minutes == 45 and merged.learning.show_hints
    for bad in ({"playback_speed": 0.1}, {"playback_speed": 1.03}, {"theme": "pink"}, {"extra": True},
                {"notifications": {"sms": True}}):
        with pytest.raises(ValidationError):
            merge(Preferences(), bad)
