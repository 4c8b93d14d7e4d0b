from cuepoint.runtime.settings import RuntimeSettings


class IdentitySettings(RuntimeSettings):
    service: str = "identity"
    http_port: int = 8001
