"""identity's unit of work: one transaction (of a tenant, or of none: sign-in looks its tenant up by
slug first) with the repositories of identity's use cases built on its session."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.contracts.topics import USER_PROFILES
from cuepoint.runtime.unit_of_work import UnitOfWork

from . import orm
from .repositories import (
    AccountTokens,
    AuthSessions,
    Configs,
    Invitations,
    LessonActivity,
    ProfileSnapshots,
    Recipients,
    RefreshTokens,
    Tenants,
    Throttle,
    UserPreferences,
    Users,
    WeeklySummaries,
)


class IdentityUnitOfWork(UnitOfWork):
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
    lesson_activity: LessonActivity
    weekly_summaries: WeeklySummaries

    def _open(self, session: AsyncSession) -> None:
        self.tenants = Tenants(session)
        self.users = Users(session)
        self.preferences = UserPreferences(session)
        self.invitations = Invitations(session)
        self.verifications = AccountTokens(session, orm.email_verification_tokens)
        self.password_resets = AccountTokens(session, orm.password_reset_tokens)
        self.email_changes = AccountTokens(session, orm.email_change_tokens)
        self.auth_sessions = AuthSessions(session)
        self.refresh_tokens = RefreshTokens(session)
        self.throttle = Throttle(session)
        self.configs = Configs(session, self.tenant_id)
        self.recipients = Recipients(session)
        self.lesson_activity = LessonActivity(session)
        self.weekly_summaries = WeeklySummaries(session)
        self.profile_snapshots = ProfileSnapshots(session, self._outbox.schema,
                                                  self._outbox.topic_prefix + USER_PROFILES.name)
