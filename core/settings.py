"""One settings object per process, read from the environment (prefix COOLTHING_)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything a service can be configured with; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="COOLTHING_", extra="ignore")

    env: Literal["demo", "test", "production"] = "demo"
    database_url: str = "sqlite+aiosqlite:///./.coolthing/demo.db"
    # PostgreSQL connections a process keeps (pool) and opens beyond them for a burst. The
    # watchdog gives each account worker 1 and 1: a hundred workers, a hundred connections.
    database_pool_size: int = Field(default=20, ge=1)
    database_max_overflow: int = Field(default=5, ge=0)
    bus_url: str = "memory://"
    bus_prefetch: int = 200
    bus_max_deliveries: int = 5
    outbox_retention_days: float = 7.0  # published outbox rows are deleted after this long

    secret_key: SecretStr | None = None
    secret_key_file: Path = Path(".coolthing/secret.key")

    telegram_backend: Literal["sandbox", "telethon"] = "sandbox"
    telegram_api_id: int | None = None
    telegram_api_hash: SecretStr | None = None
    sandbox_url: str = "http://127.0.0.1:8081"
    join_interval: float = 3.0  # seconds between chat joins; mass joins trigger long FloodWaits
    # A send's FloodWait up to this many seconds is waited out by the worker; a longer one hands
    # the message back to the manager, which reschedules it for when Telegram allows.
    flood_wait_hold: float = 60.0
    # Recent messages the parser keeps per chat (text cut to 280 characters) so a keyword set can
    # be tried on real traffic in the panel; older ones are trimmed. 0 keeps none.
    chat_sample_size: int = Field(
        default=200, ge=0, le=10_000, description="recent messages kept per chat for 'try it'"
    )
    # An account worker gathers the chat messages it hears for this long after the first of a
    # quiet spell and sends them to the parser as one bus message (up to 100): one publish,
    # delivery and transaction for many. 0 sends what has arrived at once, with no wait. On two
    # cores at 1,000 msg/s (bench.pipeline) 20 ms gave the lowest p99: 5 ms costs ~25 % more
    # CPU a message and queues behind it, 50 ms adds its own wait.
    chat_batch_delay: float = Field(
        default=0.02, ge=0, le=1.0, description="seconds a worker gathers chat messages"
    )
    # Operators' marks retrain a campaign's intent model in the parser's background: after this
    # many seconds without another mark of the campaign, from its newest examples, within a time.
    intent_retrain_delay: float = Field(default=30.0, ge=0, le=3600, description="seconds")
    intent_retrain_timeout: float = Field(default=120.0, gt=0, le=3600, description="seconds")
    intent_retrain_max_examples: int = Field(default=2000, ge=10, le=5000)

    # The LLM behind the manager (any OpenAI-compatible endpoint). Without a base URL the manager
    # writes from the campaign's templates, so the demo works offline.
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout: float = 30.0  # seconds per attempt
    llm_attempts: int = 3  # on 429, 5xx and timeouts, with backoff
    llm_price_prompt: float = 0.00015  # USD per 1,000 prompt tokens, for the cost per campaign
    llm_price_completion: float = 0.0006  # USD per 1,000 completion tokens
    # The parser's intent judge waits this long for one answer (no retries): a message waits for
    # it, and without an answer the local model's verdict stands.
    llm_judge_timeout: float = Field(default=4.0, gt=0, le=30)
    manager_pacing: bool = True  # caps, gaps, quiet hours; off only for benchmarks
    # Telegram does not say how long a PeerFlood lasts: the account gets no new first DMs for
    # this long after one (it keeps reading and answering), then it is tried again.
    peer_flood_cooldown_hours: float = Field(
        default=24.0,
        gt=0,
        le=24 * 30,
        description="hours an account gets no new first DMs after a PeerFlood",
    )

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Host headers the API answers (DNS rebinding defence); the API's own host is always allowed.
    allowed_hosts: list[str] = ["127.0.0.1", "localhost", "[::1]"]
    cookie_secure: bool = False  # sign-in cookies only over HTTPS; production requires it ...
    allow_insecure_cookies: bool = False  # ... unless this says the deployment knows why not
    session_idle_minutes: int = 120  # a session unused this long ends
    session_max_hours: int = 12  # and every session ends this long after sign-in
    login_max_failures: int = 5  # per login within the window, then locked for the window
    login_max_failures_per_client: int = 20  # per client address within the window
    login_window_minutes: int = 15
    metrics_token: SecretStr | None = None  # /metrics off loopback needs "Bearer <token>"
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = 8081

    # The notifier bot (aiogram). Without a token the notifier does not start. The Bot API server
    # may be Telegram's, a self-hosted telegram-bot-api, or the sandbox (the demo and the tests).
    notifier_bot_token: SecretStr | None = None
    notifier_api_url: str = "https://api.telegram.org"
    notifier_webhook_url: str | None = None  # set: Telegram calls this URL instead of polling
    notifier_webhook_secret: SecretStr | None = None  # checked on every webhook call
    notifier_webhook_port: int = 8082
    # Where "Open in panel" buttons point: the panel's address as operators reach it.
    panel_url: str = "http://127.0.0.1:8000"
    alert_repeat_hours: float = Field(
        default=4.0, gt=0, description="a firing alert is sent again after this long"
    )
    alert_retention_days: float = Field(
        default=30.0, gt=0, description="days the alert log keeps an alert that is over"
    )
    alert_group_seconds: float = Field(
        default=600.0, ge=0, description="alerts of one kind within this window share a message"
    )

    # Scripts mode. Time scale multiplies every pause, typing and listen of a scene (tests and
    # benchmarks compress time; 1 in production). An account's lines in scenes keep at least
    # the gap apart and at most per_hour in any hour; the same text is not sent twice in one
    # chat within the repeat window; members' messages count as a run's engagement for the
    # engagement window after it ends.
    scene_time_scale: float = Field(default=1.0, gt=0, le=10)
    scene_min_gap: float = Field(
        default=3.0, ge=0, description="seconds between an account's lines"
    )
    scene_lines_per_hour: int = Field(default=40, ge=1, description="per account, in scenes")
    scene_repeat_window_hours: float = Field(default=72.0, ge=0)
    scene_engagement_minutes: float = Field(default=30.0, ge=0)
    media_dir: Path = Path("media")  # photos and stickers that scenes name by file

    metrics_port: int = 0  # services without an HTTP API serve /metrics here; 0 = off

    log_level: str = "INFO"
    log_json: bool = False

    # The watchdog: one `bots` worker per active account, on local processes or Docker. Restarts
    # back off from watchdog_backoff_base doubling to watchdog_backoff_cap (the first restart
    # after a crash is immediate; a worker healthy for watchdog_backoff_reset forgets its
    # crashes); watchdog_quarantine_crashes crashes within watchdog_quarantine_window quarantine
    # the account. A worker without a heartbeat for watchdog_heartbeat_timeout is killed.
    watchdog_runtime: Literal["local", "docker"] = "local"
    # Local runtime: "fork" forks each worker from a warm fork server (shared memory pages, no
    # imports per start); "exec" starts a new interpreter per worker (full isolation, ~2 s and
    # ~60 MB more each).
    watchdog_local_mode: Literal["fork", "exec"] = "fork"
    watchdog_reconcile_interval: float = Field(default=5.0, gt=0, description="seconds")
    watchdog_lease_ttl: float = Field(default=15.0, gt=0, description="seconds a lease lasts")
    watchdog_lease_renew: float = Field(default=5.0, gt=0, description="seconds between renewals")
    watchdog_backoff_base: float = Field(default=10.0, ge=0, description="seconds")
    watchdog_backoff_cap: float = Field(default=300.0, ge=0, description="seconds")
    watchdog_backoff_reset: float = Field(default=600.0, ge=0, description="seconds healthy")
    watchdog_quarantine_crashes: int = Field(default=5, ge=1)
    watchdog_quarantine_window: float = Field(default=900.0, gt=0, description="seconds")
    watchdog_heartbeat_interval: float = Field(default=5.0, gt=0, description="worker, seconds")
    watchdog_heartbeat_timeout: float = Field(default=60.0, gt=0, description="seconds")
    watchdog_stop_grace: float = Field(default=15.0, ge=0, description="SIGTERM, then SIGKILL")
    # Workers starting at once (launched, no heartbeat yet); the rest wait in line. A starting
    # worker that does not beat within watchdog_start_timeout is killed (a crash, backed off).
    watchdog_max_starting: int = Field(default=8, ge=1)
    watchdog_start_timeout: float = Field(default=30.0, gt=0, description="seconds")
    watchdog_log_lines: int = Field(default=30, ge=0, description="log lines kept per crash")
    # Docker runtime: the image and the limits of each worker's container. The bind mounts
    # ("host:container[:ro]") are for images that carry no Python (tests, development).
    watchdog_docker_url: str | None = None  # None: DOCKER_HOST or the local socket
    watchdog_docker_image: str = "coolthing:latest"
    watchdog_docker_command: list[str] = ["coolthing", "run", "bots", "--account", "{account}"]
    watchdog_docker_memory_mb: int = Field(default=512, gt=0)
    watchdog_docker_cpus: float = Field(default=1.0, gt=0)
    watchdog_docker_pids: int = Field(default=256, gt=0)
    watchdog_docker_binds: list[str] = []
    watchdog_docker_workdir: str | None = None
    # Containers carry the label coolthing.scope=<scope> and are named <scope>-bots-<account>:
    # a watchdog sees only its own deployment's workers on a shared engine.
    watchdog_docker_scope: str = "coolthing"
    # "host" (workers share the host's network: no metrics port each, they would collide) or a
    # Docker network's name (Compose's: workers reach postgres and rabbitmq by name, and each
    # serves /metrics on watchdog_docker_metrics_port for Prometheus's Docker discovery).
    watchdog_docker_network: str = "host"
    watchdog_docker_metrics_port: int = Field(default=9100, ge=0, le=65535)
    # Set by the watchdog for each worker it starts: the worker's heartbeat carries it, so the
    # watchdog tells its own (possibly just exited) worker from one another watchdog started.
    watchdog_worker_instance: str | None = None
