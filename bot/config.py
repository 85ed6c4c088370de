"""Settings, read once from the environment and `.env` into one typed object."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot import __version__
from bot.words import Lang


class Settings(BaseSettings):
    """Every setting of Clipbot; `.env.example` documents each one.

    Built once at start-up (``Settings()``) and passed down; no other module reads the
    environment. Tests build it with keyword arguments and ``_env_file=None``.
    """

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        case_sensitive=False,
    )

    # --- core -------------------------------------------------------------------------
    backend: Literal["local", "nemo", "model"] = Field("local", alias="CLIPBOT_BACKEND")
    data_dir: Path = Field(Path("./data"), alias="CLIPBOT_DATA_DIR")
    # Empty: the SQLite file in the data dir (one process). postgresql://user:pass@host/db:
    # PostgreSQL, shared by every `clipbot run` and `clipbot worker` of the bot.
    database_url: SecretStr | None = Field(None, alias="CLIPBOT_DATABASE_URL")
    log_level: str = Field("INFO", alias="CLIPBOT_LOG_LEVEL")
    # The language of a chat until its user writes (English or Chinese).
    default_language: Lang = Field("en", alias="CLIPBOT_LANGUAGE")

    # --- engine -----------------------------------------------------------------------
    # Shortest gap between two edits of one chat's status message.
    status_edit_interval_s: float = Field(3.0, alias="CLIPBOT_STATUS_EDIT_INTERVAL")
    # "⏳ Still working…" is said at each multiple of this while waiting.
    still_working_interval_s: float = Field(120.0, alias="CLIPBOT_STILL_WORKING_INTERVAL")
    # After a dropped stream: first state read, later reads, and how many unchanged reads
    # mean the turn failed.
    recovery_first_check_s: float = Field(30.0, alias="CLIPBOT_RECOVERY_FIRST_CHECK")
    recovery_interval_s: float = Field(60.0, alias="CLIPBOT_RECOVERY_INTERVAL")
    recovery_max_checks: int = Field(5, alias="CLIPBOT_RECOVERY_MAX_CHECKS")

    # --- the request queue ------------------------------------------------------------
    # Requests one process runs at once (most wait on the network).
    worker_concurrency: int = Field(1000, alias="CLIPBOT_CONCURRENCY", ge=1)
    # A claimed request is leased for this long, renewed while it runs: the work of a
    # process that died moves to another within it.
    lease_s: float = Field(20.0, alias="CLIPBOT_LEASE_SECONDS", gt=0)
    # A request that was started this many times (it keeps killing its process) is given up.
    max_attempts: int = Field(5, alias="CLIPBOT_MAX_ATTEMPTS", ge=1)
    # On SIGTERM, running requests may finish for this long; the rest resume at next start.
    shutdown_grace_s: float = Field(25.0, alias="CLIPBOT_SHUTDOWN_GRACE", ge=0)
    # Finished requests, render jobs, handled updates and untouched projects older than
    # this are pruned.
    retention_days: float = Field(30.0, alias="CLIPBOT_RETENTION_DAYS", gt=0)

    # --- Nemo -------------------------------------------------------------------------
    nemo_base_url: str = Field("https://mega-api-prod.nemovideo.ai", alias="NEMO_BASE_URL")
    nemo_token: SecretStr | None = Field(None, alias="NEMO_TOKEN")
    nemo_client_id: str | None = Field(None, alias="NEMO_CLIENT_ID")
    nemo_web_url: str = Field("https://nemovideo.com", alias="NEMO_WEB_URL")
    nemo_skill_source: str = Field("clipbot", alias="NEMO_SKILL_SOURCE")
    nemo_skill_version: str = Field(__version__, alias="NEMO_SKILL_VERSION")
    nemo_skill_platform: str = Field("clipbot", alias="NEMO_SKILL_PLATFORM")
    nemo_rate_limit_wait_s: float = Field(30.0, alias="NEMO_RATE_LIMIT_WAIT")
    # Read timeout on the chat stream: longer than the longest keep-alive gap.
    nemo_stream_read_timeout_s: float = Field(90.0, alias="NEMO_STREAM_READ_TIMEOUT")
    nemo_turn_timeout_s: float = Field(900.0, alias="NEMO_TURN_TIMEOUT")
    nemo_keepalive_only_timeout_s: float = Field(600.0, alias="NEMO_KEEPALIVE_ONLY_TIMEOUT")
    nemo_request_timeout_s: float = Field(60.0, alias="NEMO_REQUEST_TIMEOUT")
    # Reads (state, credits, render status, downloads) that fail for a passing reason are
    # tried again: this many tries in all, the first wait (doubling, jittered), and the
    # window after which no new try starts.
    nemo_read_attempts: int = Field(5, alias="NEMO_READ_ATTEMPTS")
    nemo_read_backoff_s: float = Field(0.5, alias="NEMO_READ_BACKOFF")
    nemo_read_retry_window_s: float = Field(60.0, alias="NEMO_READ_RETRY_WINDOW")
    # Render polling: first check after this, then backing off to the maximum.
    nemo_render_poll_first_s: float = Field(1.0, alias="NEMO_RENDER_POLL_FIRST")
    nemo_render_poll_max_s: float = Field(15.0, alias="NEMO_RENDER_POLL_MAX")
    nemo_render_timeout_s: float = Field(900.0, alias="NEMO_RENDER_TIMEOUT")

    # --- local renderer ---------------------------------------------------------------
    render_preset: str = Field("veryfast", alias="CLIPBOT_RENDER_PRESET")
    render_crf: int = Field(21, alias="CLIPBOT_RENDER_CRF")
    # Highest bitrate cap; each clip is also made to fit its chat's upload limit.
    render_max_bitrate_kbps: int = Field(7000, alias="CLIPBOT_RENDER_MAX_BITRATE")
    # Loudness of the music in local clips, EBU R128 integrated LUFS.
    music_lufs: float = Field(-16.0, alias="CLIPBOT_MUSIC_LOUDNESS")
    # Longest video or animated GIF the local renderer takes, in seconds.
    max_input_seconds: float = Field(60.0, alias="CLIPBOT_MAX_INPUT_SECONDS")

    # --- local AI model (CLIPBOT_BACKEND=model, the [model] extra) --------------------
    # A diffusers image-to-video folder (save_pretrained / hf download), or a hub id.
    model_path: str | None = Field(None, alias="CLIPBOT_MODEL")
    # Only with this may CLIPBOT_MODEL be a hub id that is downloaded (once, into the cache).
    model_download: bool = Field(False, alias="CLIPBOT_MODEL_DOWNLOAD")
    # "cuda" (the default when there is one), "cuda:1", "cpu" (slow: on purpose only), "mps".
    model_device: str | None = Field(None, alias="CLIPBOT_MODEL_DEVICE")
    model_dtype: Literal["auto", "float16", "bfloat16", "float32"] = Field(
        "auto", alias="CLIPBOT_MODEL_DTYPE"
    )
    # For small cards: weights wait in RAM and visit the GPU in turn; the VAE decodes in tiles.
    model_cpu_offload: bool = Field(False, alias="CLIPBOT_MODEL_CPU_OFFLOAD")
    model_vae_tiling: bool = Field(False, alias="CLIPBOT_MODEL_VAE_TILING")
    # Empty: the family's own default (see docs/model.md).
    model_steps: int | None = Field(None, alias="CLIPBOT_MODEL_STEPS", ge=1, le=1000)
    model_frames: int | None = Field(None, alias="CLIPBOT_MODEL_FRAMES", ge=2, le=1000)
    model_fps: int | None = Field(None, alias="CLIPBOT_MODEL_FPS", ge=1, le=60)
    model_resolution: int | None = Field(None, alias="CLIPBOT_MODEL_RESOLUTION", ge=16, le=2160)

    # --- a public bot: access, quotas, the HTTP side server, logs ----------------------
    # "platform:id" lists, comma-separated; empty allow lists let everyone in.
    admins: Annotated[tuple[str, ...], NoDecode] = Field((), alias="CLIPBOT_ADMINS")
    allowed_users: Annotated[tuple[str, ...], NoDecode] = Field((), alias="CLIPBOT_ALLOWED_USERS")
    allowed_chats: Annotated[tuple[str, ...], NoDecode] = Field((), alias="CLIPBOT_ALLOWED_CHATS")
    # Clips one user may have made or in the making per day (0: no limit); 20 keeps two
    # cores free for others most of the day.
    quota_clips_per_day: int = Field(20, ge=0, alias="CLIPBOT_QUOTA_CLIPS_PER_DAY")
    # Requests that may wait behind the running one in a chat (0: no limit).
    max_queued_per_chat: int = Field(3, ge=0, alias="CLIPBOT_MAX_QUEUED_PER_CHAT")
    # With Nemo: the percentage of the credit balance one user may spend per day (0: off).
    quota_credit_share: float = Field(25.0, ge=0, le=100, alias="CLIPBOT_QUOTA_CREDIT_SHARE")
    http_port: int | None = Field(None, ge=1, le=65535, alias="CLIPBOT_HTTP_PORT")
    http_host: str = Field("0.0.0.0", alias="CLIPBOT_HTTP_HOST")
    # The public address of the side server, for share links (https://clips.example.com).
    public_url: str | None = Field(None, alias="CLIPBOT_PUBLIC_URL")
    link_ttl_hours: float = Field(24.0, gt=0, alias="CLIPBOT_LINK_TTL_HOURS")
    http_token: SecretStr | None = Field(None, alias="CLIPBOT_HTTP_TOKEN")
    log_format: Literal["text", "json"] = Field("text", alias="CLIPBOT_LOG_FORMAT")

    # --- Telegram ---------------------------------------------------------------------
    telegram_bot_token: SecretStr | None = Field(None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str = Field(
        "https://api.telegram.org/bot", alias="TELEGRAM_API_BASE_URL"
    )
    telegram_file_base_url: str = Field(
        "https://api.telegram.org/file/bot", alias="TELEGRAM_FILE_BASE_URL"
    )
    telegram_local_mode: bool = Field(False, alias="TELEGRAM_LOCAL_MODE")
    telegram_webhook_url: str | None = Field(None, alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_listen: str = Field("0.0.0.0", alias="TELEGRAM_WEBHOOK_LISTEN")
    telegram_webhook_port: int = Field(8443, alias="TELEGRAM_WEBHOOK_PORT")
    telegram_webhook_secret: SecretStr | None = Field(None, alias="TELEGRAM_WEBHOOK_SECRET")

    # --- Discord ----------------------------------------------------------------------
    discord_bot_token: SecretStr | None = Field(None, alias="DISCORD_BOT_TOKEN")
    discord_api_base_url: str | None = Field(None, alias="DISCORD_API_BASE_URL")
    discord_gateway_url: str | None = Field(None, alias="DISCORD_GATEWAY_URL")
    # A big bot splits the gateway: the shards in all, and those this process holds
    # ("0,1"; empty: all of them).
    discord_shard_count: int | None = Field(None, ge=1, alias="DISCORD_SHARD_COUNT")
    discord_shard_ids: Annotated[tuple[int, ...], NoDecode] = Field((), alias="DISCORD_SHARD_IDS")

    @field_validator("admins", "allowed_users", "allowed_chats", mode="before")
    @classmethod
    def _id_list(cls, value: object) -> object:
        """``"telegram:1, discord:2"`` → ``("telegram:1", "discord:2")``."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("discord_shard_ids", mode="before")
    @classmethod
    def _number_list(cls, value: object) -> object:
        """``"0, 2"`` → ``(0, 2)``."""
        if isinstance(value, str):
            return tuple(int(part) for part in value.split(",") if part.strip())
        return value

    @field_validator("public_url", "http_port", "discord_shard_count", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """An empty line in `.env` (``CLIPBOT_HTTP_PORT=``) means the setting is off."""
        return None if value == "" else value

    @model_validator(mode="after")
    def _shards_fit(self) -> Settings:
        ids, count = self.discord_shard_ids, self.discord_shard_count
        if ids and count is None:
            raise ValueError("DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT (the shards in all)")
        if count is not None and any(not 0 <= i < count for i in ids):
            raise ValueError(f"DISCORD_SHARD_IDS must each be from 0 to {count - 1}")
        return self

    @classmethod
    def load(cls, env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
        """Read the environment and `env_file` (None: no file); `overrides` win.

        Overrides are given by field name (``backend="nemo"``), as tests do.
        """
        return cls(_env_file=env_file, **overrides)

    @property
    def db_path(self) -> Path:
        """The SQLite database file inside the data dir."""
        return self.data_dir / "clipbot.sqlite3"

    def secrets(self) -> list[str]:
        """Every configured secret value, for the log redaction filter."""
        found = [
            s.get_secret_value()
            for s in (
                self.nemo_token,
                self.telegram_bot_token,
                self.telegram_webhook_secret,
                self.discord_bot_token,
                self.http_token,
            )
            if s is not None
        ]
        if self.database_url is not None:
            password = urlsplit(self.database_url.get_secret_value()).password
            found += [self.database_url.get_secret_value(), password or ""]
        return [s for s in found if s]
