"""The drafting graph: load -> recall -> propose -> check (-> repair)* -> route -> review -> post.

::

    load ──> recall ──> propose ──> check ──┬──> route ──> review ──> post ──> END
      │                   ^                 │      │        │  ^
      │                   └──── repair <────┘      │        └──┘ (an edit that does not
      v                      (at most N rounds)    v              validate, asked again)
     END (quarantined)                            END (quarantined; rejected from review)

One graph per document and proposal, on its own checkpointer thread
(:func:`thread_id`). Drafting runs it up to the ``interrupt`` in ``review``; a decision
resumes it with ``Command(resume=decision)``. Nothing reaches the AIS before ``post``, and
``post`` runs only after an approval.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from . import nodes
from .state import DraftContext, DraftState

DraftGraph = CompiledStateGraph[DraftState, DraftContext, Any, Any]


def build_graph(checkpointer: BaseCheckpointSaver[Any] | None = None) -> DraftGraph:
    """The compiled drafting graph; pass a checkpointer to pause at review and resume."""
    # Compiling takes milliseconds, a copy with another checkpointer microseconds: a worker
    # builds a graph for every task.
    return _compiled().copy(update={"checkpointer": checkpointer})


@lru_cache(maxsize=1)
def _compiled() -> DraftGraph:
    graph = StateGraph(DraftState, context_schema=DraftContext)
    graph.add_node("load", nodes.load)
    graph.add_node("recall", nodes.recall)
    graph.add_node("propose", nodes.propose)
    graph.add_node("check", nodes.check)
    graph.add_node("repair", nodes.repair)
    graph.add_node("route", nodes.route)
    graph.add_node("review", nodes.review)
    graph.add_node("post", nodes.post)

    graph.add_edge(START, "load")
    graph.add_conditional_edges("load", nodes.after_load, {"recall": "recall", "end": END})
    graph.add_edge("recall", "propose")
    graph.add_edge("propose", "check")
    graph.add_conditional_edges("check", nodes.after_check, ["repair", "route"])
    graph.add_edge("repair", "check")
    graph.add_conditional_edges("route", nodes.after_route, {"review": "review", "end": END})
    graph.add_conditional_edges(
        "review", nodes.after_review, {"post": "post", "review": "review", "end": END}
    )
    graph.add_edge("post", END)
    return graph.compile(name="draft")


def thread_id(document_id: str, proposal_id: str) -> str:
    """The checkpointer thread of one proposal for a document: ``draft:<document>:<proposal>``."""
    return f"draft:{document_id}:{proposal_id}"


def thread_config(thread: str) -> RunnableConfig:
    """The run configuration that selects a checkpointer thread."""
    return {"configurable": {"thread_id": thread}}
