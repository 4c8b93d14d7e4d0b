"""The identity schema as SQLAlchemy tables (the DDL itself is in migrations/).

Sensitive columns (users.email, invitations.email, email_change_tokens.new_email, auth_sessions'
device_id, user_agent and ip_address) hold ciphertext, and the *_index columns their blind indexes:
sensitive.py says which and why; the repositories seal and open them."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata = MetaData(schema="identity")


def _at(name: str, nullable: bool = False) -> Column:
    return Column(name, DateTime(timezone=True), nullable=nullable)


tenants = Table(
    "tenants", metadata,
    Column("id", Uuid, primary_key=True), Column("slug", Text), Column("name", Text), Column("status", Text),
    Column("is_platform", Boolean), _at("created_at"), _at("updated_at"),
)
users = Table(
    "users", metadata,
    Column("id", Uuid, primary_key=True), Column("tenant_id", Uuid), Column("email", Text),
    Column("email_index", LargeBinary), Column("display_name", Text), Column("password_hash", Text), Column("role", Text),
    Column("is_platform_admin", Boolean), Column("status", Text), Column("email_verified", Boolean),
    _at("email_verified_at", True), _at("last_login_at", True), _at("erased_at", True), _at("created_at"),
    _at("updated_at"),
)
user_preferences = Table(
    "user_preferences", metadata,
    Column("user_id", Uuid, primary_key=True), Column("tenant_id", Uuid), Column("preferences", JSONB),
    _at("updated_at"),
)
email_verification_tokens = Table(
    "email_verification_tokens", metadata,
    Column("id", Uuid, primary_key=True), Column("tenant_id", Uuid), Column("user_id", Uuid),
    Column("token_hash", LargeBinary), _at("expires_at"), _at("used_at", True), _at("created_at"),
)
password_reset_tokens = Table(
    "password_reset_tokens", metadata,
    Column("id", Uuid, primary_key=True), Column("tenant_id", Uuid), Column("user_id", Uuid),
    Column("token_hash", LargeBinary), _at("expires_at"), _at("used_at", True), _at("created_at"),
)
email_change_tokens = Table(
    "email_change_tokens", metadata,
    Column("id", Uuid, primary_key=True), Column("tenant_id", Uuid), Column("user_id", Uuid),
    Column("new_email", Text), Column("token_hash", LargeBinary), _at("expires_at"), _at("used_at", True),
    _at("created_at"),
)
invitations = Table(
    "invitations", metadata,
    Column("id", Uuid, primary_key=True), Column("tenant_id", Uuid), Column("email", Text),
    Column("email_index", LargeBinary), Column("role", Text),
    Column("invited_by_id", Uuid), Column("token_hash", LargeBinary), _at("expires_at"), _at("accepted_at", True),
    Column("accepted_user_id", Uuid), _at("created_at"),
)
auth_sessions = Table(
    "auth_sessions", metadata,
    Column("id", Uuid, primary_key=True), Column("tenant_id", Uuid), Column("user_id", Uuid),
    Column("device_id", Text), Column("user_agent", Text), Column("ip_address", Text),
    Column("ip_address_index", LargeBinary), _at("created_at"),
    _at("last_used_at"), _at("expires_at"), _at("revoked_at", True), Column("revoke_reason", Text),
)
refresh_tokens = Table(
    "refresh_tokens", metadata,
    Column("id", Uuid, primary_key=True), Column("tenant_id", Uuid), Column("session_id", Uuid),
    Column("token_hash", LargeBinary), _at("created_at"), _at("used_at", True),
)
system_configs = Table(
    "system_configs", metadata,
    Column("tenant_id", Uuid, primary_key=True), Column("key", Text, primary_key=True), Column("value", JSONB),
    Column("updated_by_id", Uuid), _at("updated_at"),
)
platform_configs = Table(
    "platform_configs", metadata,
    Column("key", Text, primary_key=True), Column("value", JSONB), Column("updated_by_id", Uuid), _at("updated_at"),
)
published_lessons = Table(
    "published_lessons", metadata,
    Column("lesson_id", Uuid, primary_key=True), Column("tenant_id", Uuid), Column("title", Text),
    Column("created_by_id", Uuid), Column("version", Integer), _at("updated_at"),
)
lesson_activity = Table(
    "lesson_activity", metadata,
    Column("tenant_id", Uuid), Column("lesson_id", Uuid, primary_key=True), Column("day", Date, primary_key=True),
    Column("student_id", Uuid, primary_key=True), Column("attempts", Integer), Column("correct", Integer),
)
weekly_summaries = Table(
    "weekly_summaries", metadata,
    Column("tenant_id", Uuid), Column("user_id", Uuid, primary_key=True), Column("week", Date, primary_key=True),
    _at("sent_at"),
)
signing_keys = Table(
    "signing_keys", metadata,
    Column("kid", Text, primary_key=True), Column("algorithm", Text), Column("private_key_encrypted", Text),
    Column("public_jwk", JSONB), _at("created_at"),
)
auth_throttle = Table(
    "auth_throttle", metadata,
    Column("scope", Text, primary_key=True), Column("subject", Text, primary_key=True), Column("failures", Integer),
    _at("last_failure_at"),
)
data_exports = Table(
    "data_exports", metadata,
    Column("id", Uuid, primary_key=True), Column("tenant_id", Uuid), Column("user_id", Uuid),
    Column("requested_by_id", Uuid), Column("status", Text), Column("public_key", LargeBinary),
    Column("private_key_encrypted", Text), Column("services", ARRAY(Text)), Column("archive", Text),
    _at("requested_at"), _at("ready_at", True), _at("expires_at", True),
)
data_export_parts = Table(
    "data_export_parts", metadata,
    Column("export_id", Uuid, primary_key=True), Column("service", Text, primary_key=True),
    Column("chunk", Integer, primary_key=True), Column("tenant_id", Uuid), Column("chunks", Integer),
    Column("sealed", LargeBinary), _at("received_at"),
)
