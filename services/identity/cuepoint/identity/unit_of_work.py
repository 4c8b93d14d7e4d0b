"""identity's unit of work: one transaction (of a tenant, or of none: sign-in looks its tenant up by
slug first) with the repositories of identity's use cases built on its session."""

from __future__ import annotations

import functools

from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.contracts.topics import USER_PROFILES
from cuepoint.runtime.secrets import Keyring
from cuepoint.runtime.unit_of_work import UnitOfWork

from . import orm
from .repositories import (
    AccountTokens,
    AuthSessions,
    Configs,
    DataExports,
    Invitations,
    LessonActivity,
    ProfileSnapshots,
    Recipients,
    RefreshTokens,
    SealedRows,
    Tenants,
    Throttle,
    UserPreferences,
    Users,
    WeeklySummaries,
)
from .sensitive import SensitiveFields


@functools.cache
def _keyring_of_environment() -> Keyring:
    """For a unit of work made without ``with_keyring`` (a consumer's ``joining``): the keyring of the
    environment's settings, which is what the process's own settings read too."""
    from .settings import IdentitySettings

    return Keyring.from_settings(IdentitySettings())


class IdentityUnitOfWork(UnitOfWork):
    keyring: Keyring | None = None
    """What sensitive fields are sealed with: set by the composition root (``with_keyring``)."""
    tenants: Tenants
    users: Users
    preferences: UserPreferences
    invitations: Invitations
    verifications: AccountTokens
    password_resets: AccountTokens
    email_changes: AccountTokens
    auth_sessions: AuthSessions
    refresh_tokens: RefreshTokens
    throttle: Throttle
    configs: Configs
    profile_snapshots: ProfileSnapshots
    recipients: Recipients
    sealed: SealedRows
    lesson_activity: LessonActivity
    weekly_summaries: WeeklySummaries
    exports: DataExports

    @classmethod
    def with_keyring(cls, keyring: Keyring) -> type[IdentityUnitOfWork]:
        """The unit of work whose repositories seal and open sensitive fields with ``keyring``."""
        return type(cls.__name__, (cls,), {"keyring": keyring})

    def _open(self, session: AsyncSession) -> None:
        fields = SensitiveFields(self.keyring or _keyring_of_environment())
        self.tenants = Tenants(session)
        self.users = Users(session, fields)
        self.preferences = UserPreferences(session)
        self.invitations = Invitations(session, fields)
        self.verifications = AccountTokens(session, orm.email_verification_tokens, fields)
        self.password_resets = AccountTokens(session, orm.password_reset_tokens, fields)
        self.email_changes = AccountTokens(session, orm.email_change_tokens, fields)
        self.auth_sessions = AuthSessions(session, fields)
        self.refresh_tokens = RefreshTokens(session)
        self.throttle = Throttle(session)
        self.configs = Configs(session, self.tenant_id)
        self.recipients = Recipients(session, fields)
        self.sealed = SealedRows(session)
        self.lesson_activity = LessonActivity(session)
        self.weekly_summaries = WeeklySummaries(session)
        self.exports = DataExports(session)
        self.profile_snapshots = ProfileSnapshots(session, self._outbox.schema,
                                                  self._outbox.topic_prefix + USER_PROFILES.name)
