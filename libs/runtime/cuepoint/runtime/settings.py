"""Settings every service shares, read from ``CUEPOINT_*`` environment variables.

Local defaults match ``make infra``; production sets the URLs and passwords.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class RuntimeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CUEPOINT_", extra="ignore")

    service: str = Field(description="The service name; also its schema and DB role suffix.")
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_database: str = "cuepoint"
    db_password: SecretStr = SecretStr("cuepoint-local")
    database_url: str | None = Field(default=None, description="Runtime URL; overrides the pg_* parts.")
    migration_database_url: str | None = Field(default=None, description="Owner URL for migrations.")
    db_pool_size: int = 10

    kafka_port: int = 9092
    kafka_bootstrap: str | None = Field(default=None, description="host:port[,host:port]; default 127.0.0.1:<kafka_port>.")
    kafka_replication_factor: int = 1
    topic_prefix: str = Field(default="", description="Prepended to every topic name: environments or test runs sharing one cluster.")

    jwks_url: str = Field(default="http://127.0.0.1:8001/.well-known/jwks.json", description="identity's JWKS.")
    jwt_audience: str = "cuepoint"

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    trusted_proxies: str = Field(
        default="127.0.0.2",
        description="Addresses (comma-separated IPs or networks) whose X-Forwarded-For/-Proto is believed: the "
                    "gateway's only. Any other client is known by the address it connects from, so it cannot "
                    "choose the address login throttling counts. Locally the gateway connects from 127.0.0.2 "
                    "(nginx proxy_bind) and a client on the machine from 127.0.0.1.")
    log_level: str = "INFO"
    metrics_host: str = Field(default="127.0.0.1", description="Where workers and relays serve /metrics.")
    metrics_port: int | None = Field(
        default=None, description="The port a worker or relay serves /metrics on (0: any free port); default "
                                  "9100 + 10 × the service's digit + 1 (worker) or 9 (relay), see metrics.py.")
    metrics_sample_interval: float = Field(default=5.0, description="Seconds between a relay's readings of "
                                                                    "outbox backlog and consumer lag.")

    consumer_max_tries: int = 5
    relay_batch_size: int = 500
    relay_poll_interval: float = 1.0

    @property
    def runtime_role(self) -> str:
        return f"cuepoint_{self.service}"

    @property
    def owner_role(self) -> str:
        return f"cuepoint_{self.service}_owner"

    def _url(self, role: str) -> str:
        password = self.db_password.get_secret_value()
        return f"postgresql+psycopg://{role}:{password}@{self.pg_host}:{self.pg_port}/{self.pg_database}"

    @property
    def runtime_database_url(self) -> str:
        return self.database_url or self._url(self.runtime_role)

    @property
    def owner_database_url(self) -> str:
        return self.migration_database_url or self._url(self.owner_role)

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"
