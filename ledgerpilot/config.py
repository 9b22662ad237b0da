"""One settings object for the whole system, read from ``LEDGERPILOT_*`` environment variables.

The defaults are the embedded set-up of a fresh laptop: SQLite files under ``var/`` and no
servers. Production sets the URLs of its PostgreSQL, Redis and model server instead.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

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

    llm_base_url: str | None = Field(
        None,
        description="Base URL of the OpenAI-compatible model server for the llm backend "
        "(vLLM: http://HOST:8000/v1).",
    )
    llm_model: str = Field(
        "ledgerpilot",
        description="Model name to ask the server for; with vLLM, the LoRA adapter's name.",
    )
    llm_api_key: str | None = Field(None, description="API key of the model server, if any.")
    llm_timeout: float = Field(60.0, description="Seconds to wait for one model answer.")
    llm_max_concurrency: int = Field(4, description="Model requests in flight at once.")
    llm_structured: bool | Literal["auto"] = Field(
        "auto",
        description="Ask the server for JSON-schema output: auto (fall back to plain "
        "text when refused), true (insist) or false.",
    )
    local_model_dir: Path | None = Field(
        None, description="A transformers model directory for the local backend."
    )
    local_adapters: list[Path] = Field(
        default_factory=list,
        description="PEFT adapter directories merged into the local "
        "model, in order (JSON list in the environment).",
    )
    auto_threshold: float = Field(
        0.9, description="auto backend: memory's confidence from which the model is not asked."
    )
    max_repairs: int = Field(2, description="Repair rounds after a proposal with violations.")

    backend: Literal["memory", "llm", "local", "auto"] = Field(
        "memory",
        description="The backend the workers draft with: memory (history), llm (the model "
        "server), local (a model directory) or auto (memory, then the model where unsure).",
    )

    broker_url: str | None = Field(
        None,
        description="Celery broker: redis://HOST:6379/0 in production; default: kombu's "
        "SQLAlchemy transport on a SQLite file under data_dir (no server needed).",
    )
    result_backend: str | None = Field(
        None,
        description="Celery result backend: redis://HOST:6379/1 in production; default: a "
        "SQLite file under data_dir.",
    )
    poll_seconds: float = Field(
        60.0, description="How often beat asks the AIS for newly arrived documents."
    )
    session_hours: float = Field(8.0, description="How long a web UI login lasts.")
    secure_cookies: bool = Field(
        True,
        description="Send the session cookie only over HTTPS; turn off only for plain-HTTP "
        "use on localhost.",
    )

    def default_broker_url(self) -> str:
        """The broker to use: ``broker_url`` or the embedded SQLite broker."""
        return self.broker_url or f"sqla+sqlite:///{self.data_dir / 'demo' / 'broker.sqlite'}"

    def default_result_backend(self) -> str:
        """The result backend to use: ``result_backend`` or a SQLite file under data_dir."""
        return self.result_backend or f"db+sqlite:///{self.data_dir / 'demo' / 'results.sqlite'}"

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
