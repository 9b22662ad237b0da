"""Backends by name, configured from the settings: what ``draft`` and ``eval`` ask for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...ledger import ChartOfAccounts
from .base import Backend

if TYPE_CHECKING:
    from ...config import Settings
    from ..recall import HistoryIndex

BACKEND_NAMES = ("memory", "llm", "local", "auto")


class BackendNotConfigured(ValueError):
    """A backend was asked for whose settings are missing."""


def _llm(settings: Settings) -> Backend:
    from .llm import LLMBackend

    return LLMBackend(
        settings.llm_base_url or "",
        settings.llm_model,
        api_key=settings.llm_api_key,
        timeout=settings.llm_timeout,
        max_concurrency=settings.llm_max_concurrency,
        structured=settings.llm_structured,
    )


def _local(settings: Settings, options: Mapping[str, Any] | None = None) -> Backend:
    from .local import LocalBackend

    assert settings.local_model_dir is not None
    return LocalBackend(
        settings.local_model_dir,
        adapters=settings.local_adapters,
        compact=settings.local_prompt == "compact",
        max_examples=settings.local_examples,
        **(options or {}),
    )


def model_backend(
    settings: Settings, local_options: Mapping[str, Any] | None = None
) -> Backend | None:
    """The model backend the settings configure: ``llm`` if a server is set, else ``local``."""
    if settings.llm_base_url:
        return _llm(settings)
    if settings.local_model_dir:
        return _local(settings, local_options)
    return None


def make_backend(
    name: str,
    index: HistoryIndex,
    chart: ChartOfAccounts,
    settings: Settings,
    local_options: Mapping[str, Any] | None = None,
) -> Backend:
    """The backend called ``name`` over ``index``; raises :class:`BackendNotConfigured`.

    ``local_options``: more keyword arguments of the ``local`` backend (``batch_size``,
    ``max_new_tokens``, ...), for ``local`` and for ``auto`` when it falls back on it.
    """
    from .auto import AutoBackend
    from .memory import MemoryBackend

    if name == "memory":
        return MemoryBackend(index, chart)
    if name == "llm":
        if not settings.llm_base_url:
            raise BackendNotConfigured(
                "the llm backend needs a model server: set LEDGERPILOT_LLM_BASE_URL (and "
                "LEDGERPILOT_LLM_MODEL)"
            )
        return _llm(settings)
    if name == "local":
        if not settings.local_model_dir:
            raise BackendNotConfigured(
                "the local backend needs a model directory: set LEDGERPILOT_LOCAL_MODEL_DIR"
            )
        return _local(settings, local_options)
    if name == "auto":
        return AutoBackend(
            MemoryBackend(index, chart),
            model_backend(settings, local_options),
            threshold=settings.auto_threshold,
        )
    raise BackendNotConfigured(f"unknown backend {name!r}; one of {', '.join(BACKEND_NAMES)}")
