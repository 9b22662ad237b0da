"""The nodes of the drafting graph, and the functions that route between them.

Each node is small and returns a partial update of :class:`~.state.DraftState`; what it
uses (connector, backend, chart, recall, settings) comes from the run's
:class:`~.state.DraftContext`. Bad accounting and bad documents become a status and
violations, never an exception; only a dependency that is unavailable right now
(:class:`~ledgerpilot.connectors.ConnectorUnavailable`,
:class:`~.backends.base.BackendUnavailable`) propagates, so that the caller can retry.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from ledgerpilot.connectors import ConnectorError, ConnectorUnavailable, PostingError
from ledgerpilot.ledger import (
    ChartOfAccounts,
    Document,
    DocumentError,
    Violation,
    check_scheme,
    parse_scheme,
    validate,
)
from ledgerpilot.ledger.text import storable

from . import policy
from .backends.base import DraftRequest
from .state import (
    ACTIONS,
    Decision,
    DraftContext,
    DraftState,
    ProposalRecord,
    proposal_of,
    proposal_record,
    scheme_json,
    violation_records,
    violations_of,
)

Update = dict[str, Any]


class UnexpectedState(RuntimeError):
    """The graph reached a state its routing does not know: a bug, reported loudly."""


class InvalidDecision(ValueError):
    """A reviewer's decision that is not of the :class:`~.state.Decision` form."""


# ------------------------------------------------------------ nodes


def load(state: DraftState, runtime: Runtime[DraftContext]) -> Update:
    """Read the document from the AIS; quarantine it when it is missing or inconsistent.

    A caller that has just read the pending document from the same AIS may hand it over
    as input (``document``), which spares reading it again.
    """
    if not state.proposal_id:
        raise UnexpectedState("a draft needs its proposal id (the posting key) as input")
    document: Document | None
    try:
        if state.document is not None:
            document = Document.from_json(state.document)
        else:
            document = runtime.context.ais.get_document(state.document_id)
    except ConnectorUnavailable:
        raise
    except ConnectorError as exc:
        return _quarantine(f"the AIS could not give the document: {exc}")
    except DocumentError as exc:
        return _quarantine(f"the document cannot be read: {exc}")
    if document is None:
        return _quarantine(f"there is no document {state.document_id!r} in the AIS")
    if document.id != state.document_id:
        raise UnexpectedState(f"document {document.id!r} given to draft {state.document_id!r}")
    if document.is_posted:
        return _quarantine("the document is already posted in the AIS")
    found = document.check()
    if found:
        return _quarantine("the document's own figures do not add up", found)
    return {"document": document.to_json(), "status": "drafting"}


def recall(state: DraftState, runtime: Runtime[DraftContext]) -> Update:
    """Recall similar posted documents from history, as examples and evidence."""
    examples = runtime.context.recall(_document(state))
    return {
        "examples": [example.to_json() for example in examples],
        "evidence": [example.id for example in examples],
    }


def propose(state: DraftState, runtime: Runtime[DraftContext]) -> Update:
    """Ask the backend for a first proposal."""
    return _ask(state, runtime, feedback=(), previous=None)


def check(state: DraftState, runtime: Runtime[DraftContext]) -> Update:
    """Validate the proposal against the chart and the document's figures."""
    return {"violations": violation_records(_violations(state, runtime))}


def repair(state: DraftState, runtime: Runtime[DraftContext]) -> Update:
    """Send the violations back to the backend with its previous answer, for another try."""
    proposal = _proposal(state)
    previous = proposal["raw"] or (
        json.dumps(proposal["scheme"], ensure_ascii=False) if proposal["scheme"] else None
    )
    return _ask(state, runtime, feedback=tuple(violations_of(state.violations)), previous=previous)


def route(state: DraftState, runtime: Runtime[DraftContext]) -> Update:
    """Route the checked proposal by the routing policy: proposed, needs review, quarantined."""
    proposal = proposal_of(_proposal(state))
    violations = violations_of(state.violations)
    routing = policy.decide(proposal, violations, runtime.context.settings.policy)
    if routing.status not in ("proposed", "needs_review", "quarantined"):
        raise UnexpectedState(f"the routing policy answered {routing.status!r}")
    reason = "" if routing.status == "proposed" else routing.reason
    return {"status": routing.status, "reason": reason, "examples": []}


def review(state: DraftState, runtime: Runtime[DraftContext]) -> Update:
    """Hold the proposal for a human (``interrupt``), then apply their decision.

    Nothing here has side effects before the interrupt, because a resumed node runs again
    from its start. An approval of a proposal with violations is refused (the draft waits
    again); an edit is validated again and waits again when its lines do not validate.
    """
    proposal = _proposal(state)
    decision = read_decision(interrupt(review_payload(state)))
    if decision["action"] == "reject":
        return {"decision": decision, "status": "rejected"}
    if decision["action"] == "approve":
        if state.violations or proposal["scheme"] is None:
            return {
                "decision": decision,
                "status": "needs_review",
                "reason": "a proposal with violations cannot be approved as it is; "
                "edit its lines or reject it",
            }
        return {"decision": decision, "status": "approved", "reason": ""}
    return _edit(state, runtime, proposal, decision)


def post(state: DraftState, runtime: Runtime[DraftContext]) -> Update:
    """Post the approved entry to the AIS, once per proposal id."""
    document = _document(state)
    proposal = _proposal(state)
    decision = state.decision
    if state.status != "approved" or decision is None or proposal["scheme"] is None:
        raise UnexpectedState(f"post reached with status {state.status!r} and no approval")
    scheme, found = parse_scheme(proposal["scheme"])
    if scheme is None or found:
        raise UnexpectedState("an approved scheme no longer reads: " + repr(found[:3]))
    try:
        result = runtime.context.ais.post_entry(
            document.id,
            scheme.to_entry(document.date),
            key=state.proposal_id,
            posted_by=decision["user"],
        )
    except ConnectorUnavailable:
        raise
    except PostingError as exc:
        return _quarantine(f"the AIS refused the entry: {exc}")
    return {
        "status": "posted",
        "posting": {
            "entry_id": result.entry_id,
            "created": result.created,
            "key": state.proposal_id,
        },
    }


# ------------------------------------------------------------ routing between nodes


def after_load(state: DraftState) -> Literal["recall", "end"]:
    """Recall history for a loaded document; end for a quarantined one."""
    if state.status == "quarantined":
        return "end"
    if state.status == "drafting" and state.document is not None:
        return "recall"
    raise UnexpectedState(f"after load: status {state.status!r}")


def after_check(state: DraftState, runtime: Runtime[DraftContext]) -> Literal["repair", "route"]:
    """Repair while violations remain and repair rounds are left; else route."""
    if state.attempts < 1 or state.proposal is None:
        raise UnexpectedState("check reached without a proposal")
    if not state.violations:
        return "route"
    nothing_to_fix = state.proposal["scheme"] is None and not state.proposal["parse_violations"]
    if nothing_to_fix or state.attempts > runtime.context.settings.max_repairs:
        return "route"
    return "repair"


def after_route(state: DraftState) -> Literal["review", "end"]:
    """A routed proposal goes to review; a quarantined one ends."""
    if state.status in ("proposed", "needs_review"):
        return "review"
    if state.status == "quarantined":
        return "end"
    raise UnexpectedState(f"after route: status {state.status!r}")


def after_review(state: DraftState) -> Literal["post", "review", "end"]:
    """Post an approval, end a rejection, and ask again about a proposal that is not valid."""
    if state.status == "approved":
        return "post"
    if state.status == "rejected":
        return "end"
    if state.status == "needs_review":
        return "review"
    raise UnexpectedState(f"after review: status {state.status!r}")


# ------------------------------------------------------------ decisions


def read_decision(value: object) -> Decision:
    """Check that ``value`` is a :class:`~.state.Decision`; raise :class:`InvalidDecision`."""
    if not isinstance(value, dict):
        raise InvalidDecision(f"a decision must be a dict, not {type(value).__name__}")
    action = value.get("action")
    if action not in ACTIONS:
        raise InvalidDecision(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    user = value.get("user")
    if not isinstance(user, str) or not user.strip():
        raise InvalidDecision("a decision needs the user who made it")
    lines = value.get("lines")
    if action == "edit":
        if not isinstance(lines, list) or not all(isinstance(ln, dict) for ln in lines):
            raise InvalidDecision("an edit needs its lines, a list of posting-scheme lines")
    elif lines is not None:
        raise InvalidDecision(f"{action} takes no lines")
    reason = value.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidDecision("reason must be text")
    unknown = set(value) - {"action", "user", "lines", "reason"}
    if unknown:
        raise InvalidDecision(f"unknown fields in the decision: {', '.join(sorted(unknown))}")
    return {"action": action, "user": user.strip(), "lines": lines, "reason": reason}


def review_payload(state: DraftState) -> dict[str, Any]:
    """What the reviewer is shown (the ``interrupt`` value)."""
    return {
        "proposal_id": state.proposal_id,
        "document_id": state.document_id,
        "status": state.status,
        "proposal": state.proposal,
        "violations": state.violations,
        "evidence": state.evidence,
        "reason": state.reason,
    }


def _edit(
    state: DraftState,
    runtime: Runtime[DraftContext],
    proposal: ProposalRecord,
    decision: Decision,
) -> Update:
    """The reviewer's lines replace the proposal's, and are validated again."""
    lines = decision["lines"] or []
    chart = runtime.context.chart
    scheme, raw, found = edited_scheme(
        _document(state), chart, proposal["scheme"], lines, decision["user"]
    )
    edited: ProposalRecord = {
        **proposal,
        "scheme": scheme,
        "raw": json.dumps(raw, ensure_ascii=False),
        "note": f"edited by {decision['user']}",
        "parse_violations": [],
    }
    if found:
        return {
            "decision": decision,
            "proposal": edited,
            "violations": violation_records(found),
            "status": "needs_review",
            "reason": "the edited lines do not validate",
        }
    return {
        "decision": decision,
        "proposal": edited,
        "violations": [],
        "status": "approved",
        "reason": "",
    }


def edited_scheme(
    document: Document,
    chart: ChartOfAccounts,
    previous: dict[str, Any] | None,
    lines: list[dict[str, Any]],
    user: str,
) -> tuple[dict[str, Any] | None, dict[str, Any], list[Violation]]:
    """A reviewer's ``lines`` for ``document`` as a posting scheme, validated against the chart.

    Returns the scheme's JSON (``None`` when the lines do not even read), the raw scheme
    built from the lines (the previous scheme's explanation kept, unless it is text a
    database cannot store, which the reviewer could not correct), and the violations.
    """
    raw: dict[str, Any] = {
        "document": document.id,
        "kind": document.kind,
        "explanation": storable(str((previous or {}).get("explanation") or ""))
        or f"edited by {user}",
        "lines": lines,
    }
    scheme, found = check_scheme(raw, chart, document)
    if scheme is not None and not scheme.lines:
        found = [*found, Violation("empty", "the edited scheme has no lines")]
    return (None if scheme is None else scheme_json(scheme, document.currency)), raw, found


# ------------------------------------------------------------ helpers


def _ask(
    state: DraftState,
    runtime: Runtime[DraftContext],
    feedback: tuple[Violation, ...],
    previous: str | None,
) -> Update:
    document = _document(state)
    attempt = state.attempts + 1
    request = DraftRequest(
        document=document,
        chart=runtime.context.chart,
        # A backend that recalls history itself (memory, auto) is spared re-reading examples.
        examples=()
        if getattr(runtime.context.backend, "recalls_itself", False)
        else tuple(Document.from_json(example) for example in state.examples),
        feedback=feedback,
        previous=previous,
        attempt=attempt,
    )
    proposal = runtime.context.backend.propose(request)
    return {"proposal": proposal_record(proposal, document.currency), "attempts": attempt}


def _violations(state: DraftState, runtime: Runtime[DraftContext]) -> list[Violation]:
    proposal = _proposal(state)
    if proposal["parse_violations"]:
        return violations_of(proposal["parse_violations"])
    if proposal["scheme"] is None:
        said = f": {proposal['note']}" if proposal["note"] else ""
        return [Violation("empty", f"the {proposal['backend']} backend proposed nothing{said}")]
    scheme, found = parse_scheme(proposal["scheme"])
    if scheme is None or found:
        return found
    return validate(scheme, runtime.context.chart, _document(state))


def _document(state: DraftState) -> Document:
    if state.document is None:
        raise UnexpectedState(f"document {state.document_id!r} was not loaded")
    return Document.from_json(state.document)


def _proposal(state: DraftState) -> ProposalRecord:
    if state.proposal is None:
        raise UnexpectedState(f"no proposal for document {state.document_id!r}")
    return state.proposal


def _quarantine(reason: str, found: list[Violation] | None = None) -> Update:
    update: Update = {"status": "quarantined", "reason": reason}
    if found is not None:
        update["violations"] = violation_records(found)
    return update
