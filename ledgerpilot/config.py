"""One settings object for the whole system, read from ``LEDGERPILOT_*`` environment variables.

The defaults are the embedded set-up of a fresh laptop: SQLite files under ``var/`` and no
servers. Production sets the URLs of its PostgreSQL, Redis and model server instead.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """ledgerpilot's settings; each field can be set as ``LEDGERPILOT_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="LEDGERPILOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(Path("var"), description="Where the embedded default keeps its files.")
    ais_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the AIS database; default: the demo company under data_dir.",
    )
    store_url: str | None = Field(
        None,
        description="SQLAlchemy URL of ledgerpilot's own store (proposals, decisions); "
        "default: a SQLite file under data_dir.",
    )

    def default_ais_url(self) -> str:
        """The AIS URL to use: ``ais_url`` or the demo company's SQLite file."""
        return self.ais_url or f"sqlite:///{self.data_dir / 'demo' / 'ais.sqlite'}"

    def default_store_url(self) -> str:
        """The store URL to use: ``store_url`` or a SQLite file beside the demo company."""
        return self.store_url or f"sqlite:///{self.data_dir / 'demo' / 'store.sqlite'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
