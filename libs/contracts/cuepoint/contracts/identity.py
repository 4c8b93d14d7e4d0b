"""Events of the identity service (topic ``identity.events`` unless stated).

Domain events carry ids only. Personal data travels on the compacted
``identity.user-profiles`` topic, which an erasure empties with a tombstone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from .envelope import Event
from .topics import SYSTEM_CONFIGS, USER_PROFILES

Role = Literal["STUDENT", "TEACHER", "ADMIN"]


class TenantCreated(Event):
    """A platform admin created a tenant. Key: tenant_id."""

    event_type = "identity.tenant.created.v1"
    key_field = "tenant_id"
    tenant_id: UUID = Field(description="The new tenant.")
    slug: str = Field(description="The tenant's URL-safe identifier, used at login.")


class TenantSuspended(Event):
    """A platform admin suspended a tenant: its users can no longer log in. Key: tenant_id."""

    event_type = "identity.tenant.suspended.v1"
    key_field = "tenant_id"
    tenant_id: UUID = Field(description="The suspended tenant.")


class TenantReactivated(Event):
    """A suspended tenant was reactivated. Key: tenant_id."""

    event_type = "identity.tenant.reactivated.v1"
    key_field = "tenant_id"
    tenant_id: UUID = Field(description="The reactivated tenant.")


class UserRegistered(Event):
    """A user account was created, by self-registration or accepted invitation. Key: user_id."""

    event_type = "identity.user.registered.v1"
    key_field = "user_id"
    user_id: UUID = Field(description="The new user.")
    role: Role = Field(description="The role the account starts with.")
    invited_by_id: UUID | None = Field(default=None, description="The admin or teacher who invited the user, if any.")


class InvitationSent(Event):
    """An admin or teacher invited someone to the tenant with a role (the email, personal data, stays
    in identity). Key: invitation_id."""

    event_type = "identity.invitation.sent.v1"
    key_field = "invitation_id"
    invitation_id: UUID = Field(description="The invitation.")
    role: Role = Field(description="The role the invited person will have.")
    expires_at: datetime = Field(description="When the invitation's link stops working.")


class UserVerified(Event):
    """A user confirmed their email address. Key: user_id."""

    event_type = "identity.user.verified.v1"
    key_field = "user_id"
    user_id: UUID = Field(description="The verified user.")


class UserPasswordChanged(Event):
    """A user's password changed: by the user (knowing the old one) or by an emailed reset link. The
    sessions it ended are announced separately (SessionsRevoked). Key: user_id."""

    event_type = "identity.user.password_changed.v1"
    key_field = "user_id"
    user_id: UUID = Field(description="The user whose password changed.")
    method: Literal["changed", "reset"] = Field(description="`changed` (old password given) or `reset` (emailed link).")


class UserEmailChanged(Event):
    """A user's email address changed, once the new address was confirmed by its emailed link (the
    address itself is personal data: it travels on identity.user-profiles). Key: user_id."""

    event_type = "identity.user.email_changed.v1"
    key_field = "user_id"
    user_id: UUID = Field(description="The user whose email address changed.")


class UserSignedIn(Event):
    """A user signed in with their password and a session began, for the audit log. Key: user_id."""

    event_type = "identity.user.signed_in.v1"
    key_field = "user_id"
    user_id: UUID = Field(description="The user who signed in (also the envelope's actor).")
    session_id: UUID = Field(description="The session begun (the `sid` claim of its tokens).")


class UserSignInFailed(Event):
    """A sign-in to an existing account was refused, for the audit log. Attempts naming no account of
    the organisation are not announced: they belong to nobody, and the address typed is no one's to
    keep. Key: user_id."""

    event_type = "identity.user.sign_in_failed.v1"
    key_field = "user_id"
    user_id: UUID = Field(description="The account the attempt named.")
    reason: Literal["wrong-password", "deactivated", "erased", "organisation-suspended", "email-not-verified"] = Field(
        description="Why it was refused (the client is told less: a wrong password and an unknown account alike).")


class UserDataExported(Event):
    """A user's personal data was exported (by the user, or an admin for them), for the audit log. Key: user_id."""

    event_type = "identity.user.data_exported.v1"
    key_field = "user_id"
    user_id: UUID = Field(description="The user whose data was exported; the envelope's actor exported it.")


class UserExportRequested(Event):
    """A person's data export was requested (by them, or an admin for them): every service that keeps
    something about them answers with its part on privacy.export-parts, sealed to ``public_key``.
    Key: user_id."""

    event_type = "identity.user.export_requested.v1"
    key_field = "user_id"
    export_id: UUID = Field(description="The export; each part names it.")
    user_id: UUID = Field(description="The person whose data is exported.")
    public_key: str = Field(description="The export's X25519 public key (32 bytes, urlsafe base64) each part is "
                            "sealed to (cuepoint.runtime.sealed).")


class UserRoleChanged(Event):
    """An admin changed a user's role. Key: user_id."""

    event_type = "identity.user.role_changed.v1"
    key_field = "user_id"
    user_id: UUID = Field(description="The user whose role changed.")
    old_role: Role = Field(description="The role before the change.")
    new_role: Role = Field(description="The role after the change.")


class UserDeactivated(Event):
    """An admin deactivated a user: their sessions end and login is refused. Key: user_id."""

    event_type = "identity.user.deactivated.v1"
    key_field = "user_id"
    user_id: UUID = Field(description="The deactivated user.")


class UserReactivated(Event):
    """An admin reactivated a deactivated user. Key: user_id."""

    event_type = "identity.user.reactivated.v1"
    key_field = "user_id"
    user_id: UUID = Field(description="The reactivated user.")


class UserErased(Event):
    """A user's personal data was erased (GDPR); every projection drops it. Key: user_id."""

    event_type = "identity.user.erased.v1"
    key_field = "user_id"
    user_id: UUID = Field(description="The erased user; the id may remain as a pseudonym.")


class SessionsRevoked(Event):
    """Sessions of a user ended before their time: logout, a reused refresh token, a password change or
    reset, a role change, deactivation, erasure, a suspended tenant, or the user revoking one. Every
    service refuses the access tokens of these sessions (their ``sid`` claim) from then on, and may
    forget them once the longest access-token lifetime has passed since ``occurred_at``. Key: user_id."""

    event_type = "identity.sessions.revoked.v1"
    key_field = "user_id"
    user_id: UUID = Field(description="The user whose sessions ended.")
    session_ids: list[UUID] = Field(description="The sessions ended (the `sid` claim of their access tokens).")
    reason: str = Field(description="Why, e.g. `logout`, `refresh token reused`, `password reset`, `account erased`.")


class PreferencesUpdated(Event):
    """A user changed their preferences. Key: user_id."""

    event_type = "identity.preferences.updated.v1"
    key_field = "user_id"
    user_id: UUID = Field(description="The user whose preferences changed.")
    preferences: dict[str, Any] = Field(description="The full preferences document after the change (no personal data).")


class SystemConfigChanged(Event):
    """A system config's effective value changed (set, or reset to its default). Key: config_id.

    Topic: identity.system-configs (compacted). The key combines scope and config key, so
    compaction keeps the latest value of every (tenant, key) and of every platform default.
    """

    event_type = "identity.system_config.changed.v1"
    key_field = "config_id"
    topic = SYSTEM_CONFIGS.name
    config_id: str = Field(description="`platform:<key>` or `<tenant id>:<key>`: the compaction key.")
    key: str = Field(description="The config key, e.g. `grading.passingThreshold`.")
    value: Any = Field(description="The effective value after the change (JSON).")
    scope_tenant_id: UUID | None = Field(default=None, description="The tenant it applies to; null for platform-wide.")
    is_default: bool = Field(default=False, description="True when the value is the built-in default (override removed).")
    previous_value: Any = Field(default=None, description="This scope's own value before the change (JSON), for the "
                                "audit log; null when it had none (a default or the platform's value applied).")


class UserProfile(Event):
    """The current personal data of a user, for dashboards that show names. Key: user_id.

    Topic: identity.user-profiles (compacted). Erasure publishes a tombstone (null value)
    for the key, so compaction removes every earlier profile of that user.
    """

    event_type = "identity.user_profile.snapshot.v1"
    key_field = "user_id"
    topic = USER_PROFILES.name
    user_id: UUID = Field(description="The user.")
    email: str = Field(description="The user's email address.")
    display_name: str = Field(description="The name shown to teachers and classmates.")
    role: Role = Field(description="The user's current role.")
