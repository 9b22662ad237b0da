"""The ``auto`` backend: the memory first, a model when the memory is unsure.

:class:`AutoBackend` asks the ``memory`` backend. When its confidence reaches the threshold
and its scheme passes validation, that is the answer: the model is not asked. Otherwise,
when a fallback backend (``llm`` or ``local``) is configured, the fallback is asked, with
the memory's recalled documents as its examples and the memory's scheme, when it had
one, as the previous attempt with its violations. The answer is chosen by the same order
the routing policy applies (:mod:`ledgerpilot.agent.policy`): a scheme without violations
beats one with violations, which beats none; among equals the higher confidence; on a
tie the memory. A fallback that is unavailable leaves the memory's answer, with a note.

The proposal's ``backend`` is the backend that answered; ``extra["auto"]`` records who was
asked and what each said.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from ledgerpilot.ledger import Violation, validate

from ..recall import HistoryIndex
from .base import Backend, BackendUnavailable, DraftRequest, Proposal
from .memory import MemoryBackend


def violations_of(proposal: Proposal, request: DraftRequest) -> tuple[Violation, ...]:
    """The parse violations of a proposal, or its scheme's violations against the chart and
    the document."""
    if proposal.scheme is None:
        return tuple(proposal.parse_violations) or (
            Violation("empty", proposal.note or "no scheme came back"),
        )
    return tuple(proposal.parse_violations) + tuple(
        validate(proposal.scheme, request.chart, request.document)
    )


def _rank(proposal: Proposal, violations: tuple[Violation, ...]) -> tuple[int, float]:
    if proposal.scheme is None:
        return (0, proposal.confidence)
    return (1 if violations else 2, proposal.confidence)


@dataclass
class AutoBackend:
    """Memory first; the fallback when the memory's confidence is below ``threshold`` or
    its scheme has violations."""

    memory: MemoryBackend
    fallback: Backend | None = None
    threshold: float = 0.9
    """The memory's (calibrated) confidence from which the fallback is not asked."""
    examples: int = 5
    """How many recalled documents the fallback gets when the request brings none."""
    name: str = field(default="auto", init=False)
    recalls_itself: bool = field(default=True, init=False)
    """It recalls history from its own index: the graph need not hand it examples."""

    @property
    def index(self) -> HistoryIndex:
        """The memory's index of the history."""
        return self.memory.index

    def propose(self, request: DraftRequest) -> Proposal:
        """The memory's proposal, or the fallback's when that is better (see the module)."""
        first = self.memory.propose(request)
        first_violations = violations_of(first, request)
        confident = first.confidence >= self.threshold and not first_violations
        if confident or self.fallback is None:
            why = "confident" if confident else "no fallback configured"
            return self._answer(first, first, None, why)
        examples = request.examples or tuple(
            r.document for r in self.index.recall(request.document, self.examples)
        )
        asked = dataclasses.replace(request, examples=examples)
        if first.scheme is not None and request.attempt == 1:
            asked = dataclasses.replace(
                asked,
                feedback=first_violations,
                previous=json.dumps(first.scheme.to_json()),
            )
        try:
            second = self.fallback.propose(asked)
        except BackendUnavailable as exc:
            return self._answer(first, first, None, f"fallback unavailable: {exc}")
        second_violations = violations_of(second, request)
        if _rank(second, second_violations) > _rank(first, first_violations):
            return self._answer(second, first, second, "the fallback's answer is better")
        return self._answer(first, first, second, "the memory's answer is as good")

    def _answer(
        self, chosen: Proposal, memory: Proposal, fallback: Proposal | None, why: str
    ) -> Proposal:
        record: dict[str, object] = {
            "answered_by": chosen.backend,
            "why": why,
            "memory_confidence": memory.confidence,
            "threshold": self.threshold,
        }
        if fallback is not None:
            record["fallback"] = fallback.backend
            record["fallback_confidence"] = fallback.confidence
        note = chosen.note
        if chosen is memory and why.startswith("fallback unavailable"):
            note = f"{note}; {why}" if note else why
        return dataclasses.replace(chosen, note=note, extra={**chosen.extra, "auto": record})
