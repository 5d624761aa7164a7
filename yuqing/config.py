"""Configuration, read once per process from the environment with typed defaults.

Every setting has an environment variable `YUQING_<NAME>`. The embedded
default needs none of them: data lives under `./var`, the queue, index and
case store are SQLite files there.
"""
from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal, Optional

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YUQING_", extra="ignore")

    data_dir: Path = Field(default=Path("var"))
    config_dir: Path = Field(default=REPO_ROOT / "config")

    bus_backend: Literal["sqlite", "kafka"] = "sqlite"
    index_backend: Literal["sqlite", "elasticsearch"] = "sqlite"
    #: SQLAlchemy URL of the case store; default is a SQLite file in data_dir.
    database_url: Optional[str] = None

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_topic_prefix: str = ""
    #: partitions of posts.raw / posts.classified: the most classifier workers that share work
    kafka_partitions: int = 4
    elasticsearch_url: str = "http://127.0.0.1:9200"
    elasticsearch_index_prefix: str = "yuqing"

    #: Trained model file; default is classifier/model/model.joblib in the repo.
    model_path: Optional[Path] = None

    #: Flask secret key. When unset, one is generated once and kept in data_dir.
    secret_key: Optional[str] = None

    console_host: str = "127.0.0.1"
    console_port: int = 5000
    timezone: str = "Asia/Shanghai"

    def path(self, name: str) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir / name

    @property
    def case_db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.path('cases.db').resolve()}"

    @property
    def bus_db_path(self) -> Path:
        return self.path("bus.db")

    @property
    def index_db_path(self) -> Path:
        return self.path("index.db")

    @property
    def model_file(self) -> Path:
        return self.model_path or REPO_ROOT / "classifier" / "model" / "model.joblib"

    def flask_secret(self) -> str:
        """The console's secret key; generated on first use, never printed."""
        if self.secret_key:
            return self.secret_key
        key_file = self.path("secret_key")
        if not key_file.exists():
            key_file.write_text(secrets.token_hex(32))
            os.chmod(key_file, 0o600)
        return key_file.read_text().strip()

    def config_file(self, name: str) -> Path:
        return self.config_dir / name


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
