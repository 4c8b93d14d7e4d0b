from pydantic import Field, SecretStr

from cuepoint.runtime.secrets import LOCAL_DEVELOPMENT_KEY
from cuepoint.runtime.settings import RuntimeSettings


class AssessmentSettings(RuntimeSettings):
    service: str = "assessment"
    http_port: int = 8003

    secret_key: SecretStr = Field(default=SecretStr(LOCAL_DEVELOPMENT_KEY),
                                  description="Master key encrypting AI provider API keys at rest (32 "
                                              "bytes, urlsafe base64). New values are sealed under it.")
    previous_secret_keys: SecretStr = Field(
        default=SecretStr(""), description="Keys CUEPOINT_SECRET_KEY replaced (comma-separated): still read, never "
                                           "used to seal; drop them once `rotate-secrets` has run (README).")
    ai_request_tries: int = Field(default=4, ge=1, le=10, description="Requests per milestone before a job fails.")
    ai_backoff_seconds: float = Field(default=2.0, ge=0, description="First retry delay; doubles each try.")
    ai_backoff_max_seconds: float = Field(default=60.0, ge=0)
    ai_timeout_seconds: float = Field(default=60.0, gt=0,
                                      description="The whole of one request to the AI provider (connect, send, "
                                                  "wait, read): a provider that trickles its answer is cut off too.")
    ai_test_timeout_seconds: float = Field(default=15.0, gt=0, le=60,
                                           description="The whole of one connection test's request.")
    generation_poll_seconds: float = Field(default=1.0, gt=0, description="How often the worker looks for jobs.")
    generation_lease_seconds: float = Field(default=30.0, gt=0, le=60,
                                            description="A runner renews its job's lease every third of this while "
                                                        "it works; a job whose runner stopped renewing is taken "
                                                        "over this long after.")
    generation_concurrency: int = Field(default=4, ge=1, le=64, description="Jobs running at once, in all.")
    generation_per_tenant: int = Field(default=2, ge=1, le=64, description="Jobs of one tenant running at once.")
    generation_per_provider: int = Field(default=3, ge=1, le=64,
                                         description="Jobs of one provider (OPENAI, OFFLINE) running at once.")
    generation_max_runs: int = Field(default=3, ge=1, description="Runs of one job before it is failed for good.")
    auto_generate_count: int = Field(default=2, ge=1, le=10,
                                     description="Questions per milestone when generation runs on TranscriptReady.")
