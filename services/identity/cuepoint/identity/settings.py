from pydantic import Field, SecretStr

from cuepoint.runtime.secrets import LOCAL_DEVELOPMENT_KEY
from cuepoint.runtime.settings import RuntimeSettings


class IdentitySettings(RuntimeSettings):
    service: str = "identity"
    http_port: int = 8001

    secret_key: SecretStr = Field(default=SecretStr(LOCAL_DEVELOPMENT_KEY),
                                  description="Master key encrypting signing keys and sensitive fields (emails, session clients) at rest (32 "
                                              "bytes, urlsafe base64). New values are sealed under it.")
    previous_secret_keys: SecretStr = Field(
        default=SecretStr(""), description="Keys CUEPOINT_SECRET_KEY replaced (comma-separated): still read, never "
                                           "used to seal; drop them once `rotate-secrets` has run (README).")
    jwt_issuer: str = "cuepoint-identity"
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=900, description="At most 15 minutes.")
    refresh_token_ttl_days: int = Field(default=30, ge=1, le=365)
    signing_key_rotation_days: int = Field(default=30, ge=1)
    verification_token_ttl_hours: int = Field(default=24, ge=1)
    verification_resend_per_hour: int = Field(default=3, ge=1)
    invitation_ttl_days: int = Field(default=7, ge=1)
    password_reset_ttl_minutes: int = Field(default=30, ge=5, le=240, description="How long a reset link works.")
    password_reset_per_hour: int = Field(default=3, ge=1, description="Reset emails per account and hour.")
    email_change_ttl_hours: int = Field(default=24, ge=1, le=168)
    weekly_summary_check_seconds: float = Field(default=3600, gt=0,
                                                description="How often the worker looks for weekly summaries due.")
    export_ttl_days: int = Field(default=7, ge=1, le=30, description="How long a data export's archive is kept.")
    export_sweep_seconds: float = Field(default=3600, gt=0,
                                        description="How often the worker deletes expired data exports.")
    public_base_url: str = Field(default="http://127.0.0.1:8080", description="Where links in emails point.")

    smtp_host: str | None = Field(default=None, description="Unset: emails are written to the service log.")
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_tls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    mail_from: str = "Cuepoint <no-reply@cuepoint.local>"
