from pydantic import Field, SecretStr

from cuepoint.runtime.secrets import LOCAL_DEVELOPMENT_KEY
from cuepoint.runtime.settings import RuntimeSettings


class AssessmentSettings(RuntimeSettings):
    service: str = "assessment"
    http_port: int = 8003

    secret_key: SecretStr = Field(default=SecretStr(LOCAL_DEVELOPMENT_KEY),
                                  description="Master key encrypting AI provider API keys at rest (32 bytes, base64).")
    ai_request_tries: int = Field(default=4, ge=1, le=10, description="Requests per milestone before a job fails.")
    ai_backoff_seconds: float = Field(default=2.0, ge=0, description="First retry delay; doubles each try.")
    ai_backoff_max_seconds: float = Field(default=60.0, ge=0)
    ai_timeout_seconds: float = Field(default=120.0, gt=0, description="Per request to the AI provider.")
    ai_test_timeout_seconds: float = Field(default=15.0, gt=0, le=60,
                                           description="The whole of one connection test's request.")
    generation_poll_seconds: float = Field(default=1.0, gt=0, description="How often the worker looks for jobs.")
    generation_lease_seconds: float = Field(default=900.0, gt=0,
                                            description="After this long a running job is presumed dead and rerun.")
    generation_max_runs: int = Field(default=3, ge=1, description="Runs of one job before it is failed for good.")
    auto_generate_count: int = Field(default=2, ge=1, le=10,
                                     description="Questions per milestone when generation runs on TranscriptReady.")
