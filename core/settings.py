"""One settings object per process, read from the environment (prefix COOLTHING_)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything a service can be configured with; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="COOLTHING_", extra="ignore")

    env: Literal["demo", "test", "production"] = "demo"
    database_url: str = "sqlite+aiosqlite:///./.coolthing/demo.db"
    bus_url: str = "memory://"
    bus_prefetch: int = 200
    bus_max_deliveries: int = 5

    secret_key: SecretStr | None = None
    secret_key_file: Path = Path(".coolthing/secret.key")

    telegram_backend: Literal["sandbox", "telethon"] = "sandbox"
    telegram_api_id: int | None = None
    telegram_api_hash: SecretStr | None = None
    sandbox_url: str = "http://127.0.0.1:8081"
    join_interval: float = 3.0  # seconds between chat joins; mass joins trigger long FloodWaits

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = 8081

    metrics_port: int = 0  # services without an HTTP API serve /metrics here; 0 = off

    log_level: str = "INFO"
    log_json: bool = False
