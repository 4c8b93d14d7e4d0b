"""How long a client must wait after failed attempts: delays, never a hard lockout.

Three counters: the account from one client address, the client address across
accounts, and the account from anywhere. The last applies only to addresses the account
has never logged in from, so an attacker hammering a victim's account from elsewhere
slows themselves, not the victim at a known address. Every key is what the client cannot
choose: the address its connection comes from (a forwarded one only from the trusted
gateway), the account; never a device id, which the client names itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Rule:
    scope: str
    free_failures: int
    max_delay_seconds: int


ACCOUNT_FROM_ADDRESS = Rule("account+address", free_failures=4, max_delay_seconds=60)
ADDRESS = Rule("address", free_failures=30, max_delay_seconds=60)
ACCOUNT_FROM_NEW_ADDRESS = Rule("account", free_failures=10, max_delay_seconds=30)
FAILURE_MEMORY_SECONDS = 15 * 60  # failures older than this are forgotten


def required_delay(rule: Rule, failures: int) -> int:
    """Seconds to wait after the last failure before the next attempt is heard."""
    excess = failures - rule.free_failures
    if excess <= 0:
        return 0
    return min(rule.max_delay_seconds, 2 ** (excess - 1))


def remaining_wait(rule: Rule, failures: int, last_failure_at: datetime, now: datetime) -> float:
    """Seconds still to wait before an attempt is heard (0 or less: go ahead)."""
    elapsed = (now - last_failure_at).total_seconds()
    if elapsed > FAILURE_MEMORY_SECONDS:
        return 0
    return required_delay(rule, failures) - elapsed
