"""A model's answer with text no database can store is refused when it is validated.

A NUL character or a lone surrogate in the explanation or a line's description would make
the AIS refuse the entry only after an approval. Validation reports it as a violation
(``unstorable_text``) instead: the backend is asked to repair it, the draft waits for a
person with the violation shown, and it cannot be approved until a person's lines replace
the model's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledgerpilot.agent.drafting import decide, draft_pending
from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.review import ProposalStore, WrongStatus
from tests.agent.drafting_kit import (
    ScriptedBackend,
    add_reviewers,
    approve,
    edit,
    make_company,
    rent_invoice,
    rent_lines,
    scheme_for,
    sqlite_url,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ProposalStore]:
    """A new proposal store in tmp_path, with the test reviewers."""
    with ProposalStore.create(sqlite_url(tmp_path / "store.sqlite")) as created:
        add_reviewers(created)
        yield created


def answer(explanation: str, description: str) -> dict[str, Any]:
    """The right rent scheme for SI-9, with ``explanation`` and the first line's description."""
    lines = rent_lines("SI-9")
    lines[0] = {**lines[0], "description": description}
    return {**scheme_for("SI-9", lines), "explanation": explanation}


@pytest.mark.parametrize(
    ("explanation", "description", "line", "said"),
    [
        ("as last month\x00", "Office rent", None, "the explanation contains a NUL character"),
        ("as last month", "Office\x00rent", 1, "the description contains a NUL character"),
        ("as last month", "Office rent \ud800", 1, "lone surrogate"),
    ],
    ids=["NUL in the explanation", "NUL in a description", "lone surrogate in a description"],
)
def test_unstorable_text_in_an_answer_is_a_violation_and_cannot_be_approved(
    tmp_path: Path,
    store: ProposalStore,
    explanation: str,
    description: str,
    line: int | None,
    said: str,
) -> None:
    backend = ScriptedBackend([answer(explanation, description)], confidence=1.0)
    url = make_company(sqlite_url(tmp_path / "ais.sqlite"), [rent_invoice("SI-9", "2024-03-05")])
    with ReferenceAIS(url) as ais:
        (outcome,) = draft_pending(ais, store, backend)
        # The only fault of an otherwise right, confident answer: it waits for a person.
        assert outcome.status == "needs_review"
        assert [(v.code, v.line) for v in outcome.violations] == [("unstorable_text", line)]
        assert said in outcome.violations[0].message
        # The backend was told on each repair round, and answered the same again.
        assert len(backend.requests) == 3
        assert [v.code for v in backend.requests[1].feedback] == ["unstorable_text"]
        assert outcome.proposal_id is not None
        with pytest.raises(WrongStatus, match="unstorable_text"):
            decide(store, ais, outcome.proposal_id, approve("ana"))
        stored = store.get(outcome.proposal_id)
        assert stored is not None and stored.status == "needs_review"
        assert [d.id for d in ais.pending_documents()] == ["SI-9"]


def test_a_person_replaces_unstorable_lines_and_then_the_entry_posts(
    tmp_path: Path, store: ProposalStore
) -> None:
    backend = ScriptedBackend([answer("as last month\x00", "Office\x00rent")], confidence=1.0)
    url = make_company(sqlite_url(tmp_path / "ais.sqlite"), [rent_invoice("SI-9", "2024-03-05")])
    with ReferenceAIS(url) as ais:
        (outcome,) = draft_pending(ais, store, backend)
        assert outcome.proposal_id is not None
        assert [(v.code, v.line) for v in outcome.violations] == [
            ("unstorable_text", None),
            ("unstorable_text", 1),
        ]
        # An edit that keeps the NUL is checked as well and waits again.
        nul = answer("", "Office\x00rent")["lines"]
        done = decide(store, ais, outcome.proposal_id, edit("ana", nul))
        assert done.proposal.status == "needs_review"
        assert [(v.code, v.line) for v in done.proposal.violations] == [("unstorable_text", 1)]
        # Clean lines: the model's unstorable explanation is not kept, so they post.
        done = decide(store, ais, outcome.proposal_id, edit("ana", rent_lines("SI-9")))
        assert done.proposal.status == "needs_review" and not done.proposal.violations
        done = decide(store, ais, outcome.proposal_id, approve("bob"))
        assert done.proposal.status == "posted"
        document = ais.get_document("SI-9")
        assert document is not None and document.entry is not None
        assert document.entry.description.startswith("edited by ")
        assert [ln.description for ln in document.entry.lines] == [
            "Office rent",
            "Input VAT 25%",
            "Office Rent Ltd",
        ]
