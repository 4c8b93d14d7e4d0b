from cuepoint.runtime.settings import RuntimeSettings


class ContentSettings(RuntimeSettings):
    service: str = "content"
    http_port: int = 8002
