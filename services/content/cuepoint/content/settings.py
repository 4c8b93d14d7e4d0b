from pydantic import Field

from cuepoint.runtime.settings import RuntimeSettings


class ContentSettings(RuntimeSettings):
    service: str = "content"
    http_port: int = 8002

    storage_bucket: str = Field(default="cuepoint-media", description="The GCS bucket holding videos.")
    storage_project: str = "cuepoint"
    storage_emulator_host: str | None = Field(
        default=None, validation_alias="STORAGE_EMULATOR_HOST",
        description="The GCS emulator (local, tests); unset in production to use real GCS credentials.")
    storage_public_url: str | None = Field(
        default=None, description="Where browsers reach the emulator (e.g. the gateway's /storage): replaces the "
        "emulator's origin in every upload and playback URL handed out. Unset: URLs stay as storage makes them.")
    public_api_path: str = Field(
        default="/api/content", description="Where browsers reach this API (the gateway's prefix): the start of the "
        "thumbnail URLs content hands out, which pages load without a token.")
    thumbnail_max_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, description="The largest thumbnail image accepted.")
    upload_session_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    playback_url_minutes: int = Field(default=15, ge=1, le=24 * 60)
    probe_timeout_seconds: float = Field(default=30, gt=0, description="How long ffprobe may read an upload.")
    allowed_video_types: tuple[str, ...] = ("video/mp4", "video/webm", "video/quicktime")
