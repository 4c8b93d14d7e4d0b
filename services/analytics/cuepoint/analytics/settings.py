from pydantic import Field

from cuepoint.runtime.settings import RuntimeSettings


class AnalyticsSettings(RuntimeSettings):
    service: str = "analytics"
    http_port: int = 8005
    telemetry_consumers: int = Field(
        default=1, ge=1, le=12,
        description="Kafka consumers of client telemetry per worker process (CUEPOINT_TELEMETRY_CONSUMERS): with 2, "
                    "one decodes while the other waits for PostgreSQL (measured 16k → 22k events/s in one process). "
                    "The deployment runs 2 worker replicas of 1 instead (28k/s); the topic's 12 partitions bound "
                    "the total.")
    analytics_read_url: str | None = Field(
        default=None,
        description="CUEPOINT_ANALYTICS_READ_URL: where the dashboards and exports read, a streaming replica of the "
                    "cluster (`CUEPOINT_PG_REPLICA=1 make infra` runs one on the primary's port + 1), as the analytics "
                    "runtime role: postgresql://cuepoint_analytics:<password>@127.0.0.1:5433/cuepoint. Unset: they "
                    "read from the primary. Writes (projections, the audit log) always go to the primary; while the "
                    "replica does not answer, reads go to the primary too.")
    analytics_read_max_lag: float = Field(
        default=10.0, gt=0,
        description="CUEPOINT_ANALYTICS_READ_MAX_LAG: seconds the replica may be behind the primary before analytics' "
                    "/readyz says degraded (still 200: reads keep being answered, a little stale).")
    analytics_read_retry: float = Field(
        default=5.0, ge=0,
        description="CUEPOINT_ANALYTICS_READ_RETRY: seconds after the replica failed to answer before a read tries it "
                    "again (meanwhile reads go to the primary; /readyz tries it every time it is asked).")
