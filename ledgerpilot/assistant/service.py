"""The assistant as a long-running service hands it out: conversations kept in the store.

:class:`AskService` is what the web UI holds (``create_app(..., assistant=...)``): an
:class:`~ledgerpilot.assistant.assistant.Assistant` over the AIS connector, and the store's
URL whose checkpointer keeps each conversation's LangGraph thread. A checkpointer is opened
per question (SQLite: a file; PostgreSQL: one connection), so the service holds no
connection between requests and is safe to share between threads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ledgerpilot.agent.checkpoints import open_checkpointer

from .assistant import Assistant
from .conversation import ask, build_ask_graph, turns

if TYPE_CHECKING:
    from ledgerpilot.config import Settings
    from ledgerpilot.ledger import Document


def offered_backends(settings: Settings) -> tuple[str, ...]:
    """The backends a server with these settings can answer with (memory always)."""
    found = ["memory"]
    if settings.llm_base_url or settings.local_model_dir:
        found.insert(0, "auto")
    if settings.llm_base_url:
        found.append("llm")
    if settings.local_model_dir:
        found.append("local")
    return tuple(found)


class AskService:
    """Questions and conversations for the web UI."""

    def __init__(
        self, assistant: Assistant, store_url: str, backends: tuple[str, ...] = ("memory",)
    ) -> None:
        """``backends``: those offered, the default first."""
        self.assistant = assistant
        self.store_url = store_url
        self.backends = backends

    def ask(self, thread: str, question: str, backend: str) -> dict[str, Any]:
        """Answer ``question`` on ``thread``: the turn (question, understood, answer, at)."""
        with open_checkpointer(self.store_url) as checkpointer:
            return ask(build_ask_graph(checkpointer), self.assistant, thread, question, backend)

    def conversation(self, thread: str) -> list[dict[str, Any]]:
        """The turns of ``thread``, oldest first."""
        with open_checkpointer(self.store_url) as checkpointer:
            return turns(build_ask_graph(checkpointer), thread)

    def document(self, document_id: str) -> Document | None:
        """A document of the AIS, for the evidence's links."""
        return self.assistant.document(document_id)
