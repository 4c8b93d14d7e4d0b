from cuepoint.runtime.settings import RuntimeSettings


class AnalyticsSettings(RuntimeSettings):
    service: str = "analytics"
    http_port: int = 8005
