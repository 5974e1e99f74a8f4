"""Nimbus settings: every knob is an environment variable with the NIMBUS_ prefix."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from executor.image.build import DEFAULT_TAG as DEFAULT_SANDBOX_IMAGE

DEFAULT_SECRET = "change-me"  # noqa: S105 - the sentinel that production refuses


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NIMBUS_", extra="ignore")

    env: Literal["dev", "production"] = "dev"
    data_dir: Path = Path("./data")
    database_url: str = ""  # empty: SQLite file in data_dir
    secret_key: str = ""  # empty in dev: generated once and kept in data_dir
    host: str = "127.0.0.1"
    port: int = 8000
    storage_url: str = ""  # empty: file://<data_dir>/blobs
    s3_endpoint_url: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    smtp_url: str | None = None  # smtp://user:pass@host:587 (STARTTLS) or smtps://...:465
    smtp_from: str = "Nimbus <nimbus@localhost>"
    public_url: str = "http://127.0.0.1:8000"  # links in emails point here
    webhook_allow_private_targets: bool = False
    outbox_poll_interval_s: float = 2.0  # fallback: a commit that queues email/webhooks wakes it
    attachment_max_bytes: int = 25 * 1024 * 1024
    # A JSON body (every route but uploads and job submissions, which declare their own); larger
    # is 413 before it is read
    json_body_max_bytes: int = 512 * 1024
    request_head_max_bytes: int = 32 * 1024  # request line + headers; larger is 431 (`serve`)
    registration: Literal["open", "closed"] = "open"
    cors_origins: list[str] = Field(default_factory=list)
    executor_backend: Literal["auto", "docker", "bwrap", "off"] = "auto"
    executor_in_process: bool = True
    docker_host: str | None = None
    sandbox_image: str = DEFAULT_SANDBOX_IMAGE
    job_max_wall_time_s: int = 30
    job_max_memory_mb: int = 256
    job_max_output_bytes: int = 1_000_000
    job_concurrency: int = 2
    sandbox_pool_size: int = 2
    job_lease_s: float = 30.0  # a running job's worker must heartbeat within this; else reaped
    job_max_attempts: int = 2  # a job whose worker died is retried once, then ends `error`
    job_poll_interval_s: float = 1.0  # fallback when no notification wakes the worker or stream
    job_queue_max: int = 500  # queued jobs across all users before POST /jobs answers 503
    job_max_active_per_user: int = 10  # queued + running jobs per user before 429
    job_submit_rate_per_minute: int = 60  # job submissions per user per minute before 429
    job_max_request_bytes: int = 5_000_000  # decoded files + stdin of one submission
    job_sse_keepalive_s: float = 15.0
    # Retention: an ended job's input, output, files and events are removed this many days after
    # it ended (0: kept forever), and a user's oldest ones once theirs exceed the quota (0: none);
    # the maintenance loop checks every job_retention_interval_s
    job_retention_days: float = Field(default=30.0, ge=0)
    job_storage_per_user_mb: int = Field(default=200, ge=0)
    job_retention_interval_s: float = Field(default=300.0, gt=0)
    # Event streams open at once in one API process, in all, per user and per job (429 beyond),
    # and how long a client may take to accept a write before its stream is dropped
    job_sse_max_streams: int = Field(default=500, ge=1)
    job_sse_max_streams_per_user: int = 20
    job_sse_max_streams_per_job: int = 100
    job_sse_send_timeout_s: float = 30.0
    # A plain job that ran at least this long notifies its owner when it ends; shorter ones were
    # almost certainly watched as they ran, and a notification for each would be noise.
    job_notify_after_s: float = 10.0
    worker_id: str = ""  # empty: <hostname>-<pid>
    worker_shutdown_grace_s: float = 10.0  # running jobs get this long before being requeued
    shutdown_grace_s: int = 20  # on SIGTERM, in-flight requests get this long to finish
    metrics_token: str | None = None  # set: /metrics wants it as a Bearer token; else local only
    worker_metrics_port: int | None = None  # `nimbus worker` serves /metrics here when set
    worker_metrics_host: str = "127.0.0.1"
    worker_reap_on_start: bool = True  # off when several workers share one Docker engine
    expense_import_max_bytes: int = 20_000_000  # one CSV upload; larger is 413
    expense_import_max_rows: int = 100_000  # data rows of one CSV upload; more is 413
    access_token_ttl_s: int = 15 * 60
    refresh_token_ttl_s: int = 30 * 24 * 3600
    # Failed sign-ins per (account, client) before each next attempt from that client waits,
    # twice as long every time; a client gets 4x this across accounts; an account 10x this
    # from all clients, beyond which only clients without recent failures may try.
    login_max_failures: int = 5
    login_window_s: int = 300
    registration_max_per_client: int = 5  # self-registrations per client address and window
    registration_window_s: int = 3600
    # Reverse proxies whose X-Forwarded-For/-Proto `nimbus serve` believes: comma-separated
    # addresses or networks ("172.31.254.0/26"); empty believes none, "*" believes anyone.
    forwarded_allow_ips: str = ""
    spa_dir: Path | None = None  # defaults to frontend/dist when it exists
    log_level: str = "INFO"
    log_format: Literal["json", "text"] | None = None  # default: json in production, else text

    @field_validator(
        "smtp_url", "s3_endpoint_url", "worker_metrics_port", "metrics_token", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """`NIMBUS_SMTP_URL: ${NIMBUS_SMTP_URL:-}` in a compose file means "no SMTP"."""
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _refuse_default_secret_outside_dev(self) -> Settings:
        if self.env != "dev" and self.secret_key in ("", DEFAULT_SECRET):
            raise ValueError(
                "NIMBUS_SECRET_KEY must be set to a long random value outside dev "
                "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if self.env != "dev" and len(self.secret_key) < 32:
            raise ValueError("NIMBUS_SECRET_KEY must be at least 32 characters outside dev")
        return self

    @property
    def effective_log_format(self) -> Literal["json", "text"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.env == "production" else "text"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'nimbus.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def effective_secret_key(self) -> str:
        return self.secret_key or _dev_secret(self.data_dir)


@lru_cache
def _dev_secret(data_dir: Path) -> str:
    """The embedded default keeps one random key in the data dir so tokens survive restarts."""
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
