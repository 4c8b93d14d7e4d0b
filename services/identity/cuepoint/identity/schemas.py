"""identity's HTTP request and response models (what the OpenAPI document shows)."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import EmailStr, Field

from cuepoint.runtime.api_models import Out, Strict

from .domain.preferences import Preferences

RoleName = Literal["STUDENT", "TEACHER", "ADMIN"]
Slug = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
Password = Annotated[str, Field(min_length=1, max_length=1024)]
DisplayName = Annotated[str, Field(min_length=1, max_length=120)]


class TenantIn(Strict):
    slug: Slug
    name: Annotated[str, Field(min_length=1, max_length=200)]
    admin_email: EmailStr | None = Field(default=None, description="Invite this person as the tenant's first admin.")


class TenantOut(Out):
    id: uuid.UUID
    slug: str
    name: str
    status: str
    created_at: datetime


class RegisterIn(Strict):
    tenant: Slug
    email: EmailStr
    password: Password
    display_name: DisplayName
    invitation_token: str | None = Field(default=None, max_length=200)


class UserOut(Out):
    id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    display_name: str
    role: str
    status: str
    email_verified: bool
    created_at: datetime
    last_login_at: datetime | None = None


class LoginIn(Strict):
    tenant: Slug
    email: EmailStr
    password: Password
    device_id: str | None = Field(default=None, max_length=200, description="A stable id of this browser or device.")


class TokenOut(Out):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    session_id: uuid.UUID


class RefreshIn(Strict):
    refresh_token: str = Field(min_length=1, max_length=300)


class TokenIn(Strict):
    token: str = Field(min_length=1, max_length=300)


class ResendIn(Strict):
    tenant: Slug
    email: EmailStr


class SessionOut(Out):
    id: uuid.UUID
    device_id: str | None
    user_agent: str | None
    ip_address: str | None
    created_at: datetime
    last_used_at: datetime
    current: bool


class PasswordChangeIn(Strict):
    current_password: Password
    new_password: Password


class PasswordResetIn(Strict):
    tenant: Slug
    email: EmailStr


class PasswordResetConfirmIn(Strict):
    token: str = Field(min_length=1, max_length=300, description="The token of the emailed reset link.")
    new_password: Password


class EmailChangeIn(Strict):
    new_email: EmailStr
    current_password: Password


class UnsubscribedOut(Out):
    notification: Literal["email_new_lesson", "email_grades", "email_weekly_summary"]
    subscribed: bool


class ProfileIn(Strict):
    display_name: DisplayName


class InvitationIn(Strict):
    email: EmailStr
    role: RoleName


class InvitationOut(Out):
    id: uuid.UUID
    email: str
    role: str
    expires_at: datetime


class RoleIn(Strict):
    role: RoleName


class ConfigOut(Out):
    key: str
    value: Any
    source: Literal["tenant", "platform", "default"]
    default: Any
    description: str


class ConfigIn(Strict):
    value: Any = Field(description="The new value; its type depends on the key.")


class Jwk(Out):
    """An Ed25519 public key (RFC 8037)."""

    kty: str = Field(description="OKP")
    crv: str = Field(description="Ed25519")
    x: str = Field(description="The public key, base64url.")
    kid: str
    alg: str
    use: str


class JwksOut(Out):
    keys: list[Jwk] = Field(description="The current signing key first; older ones while their tokens may live.")


class AcceptedOut(Out):
    status: Literal["accepted"]
    detail: str


class ExportedUser(Out):
    id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    display_name: str
    role: str
    is_platform_admin: bool
    status: str
    email_verified: bool
    email_verified_at: datetime | None
    last_login_at: datetime | None
    erased_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ExportedSession(Out):
    id: uuid.UUID
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    device_id: str | None
    user_agent: str | None
    ip_address: str | None
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None


class ExportedInvitation(Out):
    id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    role: str
    invited_by_id: uuid.UUID
    expires_at: datetime
    accepted_at: datetime | None
    accepted_user_id: uuid.UUID | None
    created_at: datetime


class UserExportOut(Out):
    """Everything identity holds about a user (GDPR access), password hash and token hashes left out."""

    exported_at: datetime
    user: ExportedUser
    preferences: Preferences | None = Field(description="Null if never changed from the defaults.")
    sessions: list[ExportedSession]
    invitations_sent: list[ExportedInvitation]


class DataExportOut(Out):
    """A person's data export: every service's part, assembled into one archive (GET …/archive) once
    each has arrived."""

    id: uuid.UUID
    status: Literal["ASSEMBLING", "READY", "FAILED", "EXPIRED"] = Field(
        description="ASSEMBLING until every part has arrived; READY to download until `expires_at`; then EXPIRED "
                    "(the archive deleted). FAILED: a part did not arrive within a day, or did not open.")
    requested_at: datetime
    parts: dict[str, Literal["waiting", "received"]] = Field(description="Each service's part.")
    ready_at: datetime | None = None
    expires_at: datetime | None = Field(default=None, description="When the archive is deleted.")
