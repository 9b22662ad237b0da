"""A conversation with the assistant: a LangGraph thread whose checkpoints remember it.

::

    START ──> understand ──> answer ──> END

Each question runs the graph once on the conversation's checkpointer thread
(``ask:<owner>:<id>``, :func:`new_thread`). The checkpointer is the store's
(:func:`~ledgerpilot.agent.checkpoints.open_checkpointer`: SQLite or PostgreSQL, JSON-only
serializer), so a conversation survives the process: ``understand`` finds the previous
question's :class:`~ledgerpilot.assistant.query.Query` in the thread's state and a follow-up
("and for Telekom?", "what if it is 500.00 net?") keeps its context. The state holds only
JSON; the assistant itself (history index, models) is the run's context, never
checkpointed.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from ledgerpilot.agent.graph import thread_config

from .assistant import Assistant
from .query import Query

MAX_TURNS = 50
"""Questions and answers a thread keeps (the oldest go first)."""
THREAD_PREFIX = "ask:"
_THREAD = re.compile(r"ask:[A-Za-z0-9_.@-]{1,64}:[A-Za-z0-9_-]{1,64}")


def _recent(kept: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The turns reducer: append, keep the last :data:`MAX_TURNS`."""
    return (kept + new)[-MAX_TURNS:]


class AskState(TypedDict, total=False):
    """The state of a conversation (JSON values only)."""

    question: str
    """The question being answered."""
    backend: str
    """The backend it is answered with: ``memory``, ``llm``, ``local`` or ``auto``."""
    query: dict[str, Any] | None
    """The last question as understood (:meth:`Query.as_json`): the next one's context."""
    answer: dict[str, Any] | None
    """The last answer (:meth:`~ledgerpilot.assistant.answers.Answer.as_json`)."""
    turns: Annotated[list[dict[str, Any]], _recent]
    """Every question with its answer: ``{"question", "understood", "answer", "at"}``."""


@dataclass(frozen=True)
class AskContext:
    """What the nodes use and the checkpoints never hold."""

    assistant: Assistant


AskGraph = CompiledStateGraph[AskState, AskContext, Any, Any]


def understand(state: AskState, runtime: Runtime[AskContext]) -> dict[str, Any]:
    """Resolve the question against the history, continuing the thread's previous one."""
    kept = state.get("query")
    previous = Query.from_json(kept) if kept else None
    query = runtime.context.assistant.understand(state["question"], previous)
    return {"query": query.as_json()}


def answer(state: AskState, runtime: Runtime[AskContext]) -> dict[str, Any]:
    """Answer the understood question and add the turn to the conversation."""
    query = state.get("query")
    if query is None:
        raise RuntimeError("answer ran before understand: the graph is wired wrong")
    given = runtime.context.assistant.answer(Query.from_json(query), state.get("backend", "memory"))
    record = given.as_json()
    turn = {
        "question": state["question"],
        "understood": query,
        "answer": record,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return {"answer": record, "turns": [turn]}


@lru_cache(maxsize=1)
def _compiled() -> AskGraph:
    graph = StateGraph(AskState, context_schema=AskContext)
    graph.add_node("understand", understand)
    graph.add_node("answer", answer)
    graph.add_edge(START, "understand")
    graph.add_edge("understand", "answer")
    graph.add_edge("answer", END)
    return graph.compile(name="ask")


def build_ask_graph(checkpointer: BaseCheckpointSaver[Any] | None = None) -> AskGraph:
    """The compiled conversation graph over ``checkpointer``."""
    return _compiled().copy(update={"checkpointer": checkpointer})


def new_thread(owner: str) -> str:
    """A fresh conversation thread of ``owner`` (a user name, or ``cli``)."""
    safe = re.sub(r"[^A-Za-z0-9_.@-]", "-", owner)[:64] or "anyone"
    return f"{THREAD_PREFIX}{safe}:{secrets.token_urlsafe(12)}"


def is_thread(value: str, owner: str | None = None) -> bool:
    """Whether ``value`` is a conversation thread id (of ``owner``, when given)."""
    if not _THREAD.fullmatch(value):
        return False
    return owner is None or value.split(":")[1] == re.sub(r"[^A-Za-z0-9_.@-]", "-", owner)[:64]


def ask(
    graph: AskGraph, assistant: Assistant, thread: str, question: str, backend: str = "memory"
) -> dict[str, Any]:
    """Answer ``question`` on ``thread``; the turn (question, understood, answer, at).

    Raises :class:`~ledgerpilot.assistant.question.QuestionError` for a question without
    words and :class:`~ledgerpilot.assistant.model.ModelNotConfigured` for a model backend
    without settings (both before anything is checkpointed).
    """
    from .question import read_question

    read_question(question)
    assistant.model(backend)
    state = graph.invoke(
        {"question": question, "backend": backend},
        config=thread_config(thread),
        context=AskContext(assistant),
    )
    turn: dict[str, Any] = state["turns"][-1]
    return turn


def turns(graph: AskGraph, thread: str) -> list[dict[str, Any]]:
    """The conversation so far, oldest first (empty for a new thread)."""
    snapshot = graph.get_state(thread_config(thread))
    values = snapshot.values if snapshot else {}
    found: list[dict[str, Any]] = list(values.get("turns", []))
    return found
