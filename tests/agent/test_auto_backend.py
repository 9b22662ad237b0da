"""The auto backend: memory first, the fallback when memory is unsure.

The fallback here is a scripted backend standing in for a model server (the edge of the
outside world): it answers a fixed scheme and keeps the requests it was sent.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from ledgerpilot.agent.backends.auto import AutoBackend
from ledgerpilot.agent.backends.base import BackendUnavailable, DraftRequest, Proposal
from ledgerpilot.agent.backends.memory import MemoryBackend
from ledgerpilot.agent.recall import HistoryIndex
from ledgerpilot.ledger import Document, EntryLine, Partner, PostingScheme

from .test_memory_backend import company, pending, truth


class ScriptedModel:
    """Answers ``answer`` (or raises ``BackendUnavailable``) and records each request."""

    name = "llm"

    def __init__(self, answer: PostingScheme | None, confidence: float = 0.8) -> None:
        self.answer = answer
        self.confidence = confidence
        self.requests: list[DraftRequest] = []

    def propose(self, request: DraftRequest) -> Proposal:
        self.requests.append(request)
        if self.answer is None:
            raise BackendUnavailable("the model server is down")
        return Proposal("llm", self.answer, self.confidence, model="tiny")


def memory() -> MemoryBackend:
    c = company()
    return MemoryBackend(HistoryIndex.build(c.history(), c.chart), c.chart)


def stranger() -> Document:
    rent = truth("SI-2026-000001")
    return dataclasses.replace(
        pending(rent),
        partner=Partner("SUP-NEW", "Zzyzx Quantum Holdings", country="LU"),
        lines=(dataclasses.replace(rent.lines[0], description="Quantum flux calibration"),),
        text="Zzyzx Quantum Holdings, invoice 7.",
    )


def model_scheme(doc: Document) -> PostingScheme:
    return PostingScheme(
        doc.id,
        doc.kind,
        "model",
        (
            EntryLine("6000", Decimal("1464.70")),
            EntryLine("1310", Decimal("249.00")),
            EntryLine("2110", credit=Decimal("1713.70")),
        ),
    )


def test_a_confident_memory_answers_alone() -> None:
    model = ScriptedModel(None)
    auto = AutoBackend(memory(), model, threshold=0.9)
    proposal = auto.propose(DraftRequest(pending(truth("SI-2026-000001")), company().chart))
    assert proposal.backend == "memory"
    assert proposal.extra["auto"]["answered_by"] == "memory"  # type: ignore[index]
    assert model.requests == []


def test_an_unsure_memory_asks_the_fallback_with_its_examples() -> None:
    doc = stranger()
    model = ScriptedModel(model_scheme(doc), confidence=0.8)
    auto = AutoBackend(memory(), model, threshold=0.9)
    proposal = auto.propose(DraftRequest(doc, company().chart))
    assert len(model.requests) == 1
    asked = model.requests[0]
    assert asked.examples and all(e.entry is not None for e in asked.examples)
    assert proposal.backend == "llm"
    assert proposal.extra["auto"]["answered_by"] == "llm"  # type: ignore[index]
    assert proposal.extra["auto"]["memory_confidence"] < 0.5  # type: ignore[index]


def test_a_fallback_answer_with_violations_loses_to_a_valid_memory_answer() -> None:
    doc = stranger()
    broken = PostingScheme(doc.id, doc.kind, "model", (EntryLine("6000", Decimal("1.00")),))
    auto = AutoBackend(memory(), ScriptedModel(broken, confidence=0.99), threshold=0.9)
    proposal = auto.propose(DraftRequest(doc, company().chart))
    assert proposal.backend == "memory"


def test_an_unavailable_fallback_leaves_the_memory_answer_with_a_note() -> None:
    auto = AutoBackend(memory(), ScriptedModel(None), threshold=0.9)
    proposal = auto.propose(DraftRequest(stranger(), company().chart))
    assert proposal.backend == "memory"
    assert proposal.note.endswith("fallback unavailable: the model server is down")
