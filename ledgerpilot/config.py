"""One settings object for the whole system, read from ``LEDGERPILOT_*`` environment variables.

The defaults are the embedded set-up of a fresh laptop: SQLite files under ``var/`` and no
servers. Production sets the URLs of its PostgreSQL, Redis and model server instead.
Secrets come only from the environment (or ``.env``); one left at the ``change-me-...``
placeholder of ``.env.example`` (the model server's API key, a password in a URL) is
refused with an error naming the setting, and errors never echo the values given.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal, Self
from urllib.parse import unquote, urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = ("change-me", "changeme", "change_me")
"""What a secret left as ``.env.example`` ships it contains; such a secret is refused."""
_SECRET_URLS = ("ais_url", "store_url", "broker_url", "result_backend", "llm_base_url")
"""Settings that are URLs whose password is a secret."""


def is_placeholder(secret: str) -> bool:
    """Whether ``secret`` is a placeholder of ``.env.example`` rather than a real secret."""
    return any(mark in secret.lower() for mark in PLACEHOLDER_SECRETS)


def _url_password(url: str) -> str | None:
    """The password in a URL's user information, or ``None``."""
    try:
        password = urlsplit(url).password
    except ValueError:  # a malformed port, say: the URL's own reader reports it
        return None
    return None if password is None else unquote(password)


class Settings(BaseSettings):
    """ledgerpilot's settings; each field can be set as ``LEDGERPILOT_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="LEDGERPILOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # An error must not print the secrets it was given.
        hide_input_in_errors=True,
    )

    data_dir: Path = Field(Path("var"), description="Where the embedded default keeps its files.")
    ais_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the AIS database; default: the demo company under data_dir.",
    )
    ais_mapping: Path | None = Field(
        None,
        description="A TOML file mapping the AIS's own tables onto ledgerpilot's concepts "
        "(mappings/*.toml); without it the AIS is the reference schema, or Tryton for a "
        "tryton+ URL. The --mapping option of a command overrides it.",
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
    local_prompt: Literal["full", "compact"] = Field(
        "full",
        description="The local backend's prompt: full, or compact (short system message, "
        "chart only from the examples; as `dataset build --compact` trains it).",
    )
    local_examples: int | None = Field(
        None,
        description="Retrieved examples shown to the local model at most (0: zero-shot; "
        "default: as many as fit).",
    )
    audit_lm_limit: int = Field(
        100,
        ge=0,
        description="Entries the local model scores at most in an audit's lm_surprise check "
        "(the nightly audit's, and `ledgerpilot audit`'s without --lm-limit); 0 turns it off.",
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

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> Self:
        """Refuse a secret left at its ``.env.example`` placeholder (``change-me-...``)."""
        found = ["llm_api_key"] if self.llm_api_key and is_placeholder(self.llm_api_key) else []
        for name in _SECRET_URLS:
            password = _url_password(getattr(self, name) or "")
            if password and is_placeholder(password):
                found.append(f"the password in {name}")
        if found:
            names = ", ".join(found)
            raise ValueError(
                f"{names}: still the placeholder of .env.example; set a real secret in the "
                "environment (LEDGERPILOT_*) or .env, e.g. from "
                '`python3 -c "import secrets; print(secrets.token_hex(24))"`'
            )
        return self

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
