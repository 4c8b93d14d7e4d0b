from cuepoint.runtime.settings import RuntimeSettings


class ProgressSettings(RuntimeSettings):
    service: str = "progress"
    http_port: int = 8004
