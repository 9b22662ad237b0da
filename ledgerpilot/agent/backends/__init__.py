"""Posting backends: ``memory`` (history), ``llm`` (an OpenAI-compatible server), ``local``."""

from .base import Backend, BackendUnavailable, DraftRequest, Proposal

__all__ = ["Backend", "BackendUnavailable", "DraftRequest", "Proposal"]
