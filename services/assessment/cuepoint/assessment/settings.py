from cuepoint.runtime.settings import RuntimeSettings


class AssessmentSettings(RuntimeSettings):
    service: str = "assessment"
    http_port: int = 8003
