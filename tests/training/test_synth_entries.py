"""Model-written documents and entries: kept only when valid, every rejection counted by code.

The model is replaced at the edge by :class:`ScriptedWriter` (fixed replies, as
tests/agent/drafting_kit.py's ScriptedBackend does for proposals): everything from its
text on (reading, the document checks, ledger validation, writing) is the real path. The
tiny model (random weights) runs through the real ``local`` backend too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ledgerpilot.agent.backends.factory import BackendNotConfigured
from ledgerpilot.config import Settings
from ledgerpilot.connectors import read_documents
from ledgerpilot.ledger import CODES, Document
from ledgerpilot.training.synth_entries import (
    SYNTHESIS_CODES,
    LocalWriter,
    make_writer,
    synthesis_messages,
    synthesize,
)
from ledgerpilot.training.tiny_model import build_test_model
from tests.agent.drafting_kit import make_company, rent_invoice, rent_lines, small_chart


@dataclass
class ScriptedWriter:
    """Replies with its texts in turn, and keeps the chats it was sent."""

    replies: list[str]
    name: str = "scripted"
    chats: list[list[dict[str, str]]] = field(default_factory=list)

    def write(self, messages: list[dict[str, str]], seed: int) -> str:
        self.chats.append(messages)
        return self.replies[len(self.chats) - 1]


HISTORY = [rent_invoice(f"H-{n}", f"2024-0{n}-05", posted=True) for n in range(1, 5)]


def answer(
    net: str = "2000.00",
    tax: str = "500.00",
    gross: str = "2500.00",
    lines: list[dict[str, str]] | None = None,
    **document: Any,
) -> str:
    """A model's reply: a new rent invoice and its posting (right unless told otherwise)."""
    data = rent_invoice("anything", "2024-06-05", net=net, tax=tax, gross=gross).to_json()
    data.update(number="R-2024-06", **document)
    posting = {
        "document": "anything",
        "kind": "supplier_invoice",
        "explanation": "rent as every month",
        "lines": lines if lines is not None else rent_lines("", net, tax, gross),
    }
    return "Here it is:\n" + json.dumps({"document": data, "posting": posting})


def test_a_valid_answer_is_kept_and_written_as_a_posted_document(tmp_path: Path) -> None:
    writer = ScriptedWriter([answer()])
    out = tmp_path / "new.jsonl"
    kept, report = synthesize(writer, "supplier_invoice", HISTORY, small_chart(), 1, out=out)
    assert (report.kept, report.rejected, report.rejection_rate) == (1, 0, 0.0)
    written, errors = read_documents(out, small_chart())
    assert errors == [] and written == kept
    (document,) = written
    assert document.id == "SYN-supplier_invoice-0-00001" and document.is_posted
    assert document.total_gross == kept[0].total_gross
    assert document.entry is not None
    assert [(ln.account, str(ln.debit), str(ln.credit)) for ln in document.entry.lines] == [
        ("6120", "2000.00", "0.00"),
        ("1310", "500.00", "0.00"),
        ("2110", "0.00", "2500.00"),
    ]
    # The model was shown real documents of the kind, with their postings, and the chart.
    user = writer.chats[0][1]["content"]
    assert "H-4" in user and '"posting"' in user and '"6120"' in user


def test_rejections_are_counted_by_violation_code_and_nothing_invalid_is_written(
    tmp_path: Path,
) -> None:
    unbalanced = rent_lines("", "2000.00", "500.00", "2500.00")
    unbalanced[2] = {**unbalanced[2], "credit": "2400.00"}
    unknown = rent_lines("", "2000.00", "500.00", "2500.00")
    unknown[0] = {**unknown[0], "account": "9999"}
    copied = json.loads(answer(net="1000.00", tax="250.00", gross="1250.00").split("\n", 1)[1])
    copied["document"]["number"] = "H-9"
    replies = [
        "I cannot write documents.",  # malformed
        answer(gross="2600.00"),  # document_inconsistent: net + VAT is not gross
        answer(lines=unbalanced),  # unbalanced (and total_mismatch)
        answer(lines=unknown),  # unknown_account
        answer(kind="sales_invoice"),  # wrong_kind
        json.dumps(copied),  # copied_example: a known document under a new number
        answer(net="3000.00", tax="750.00", gross="3750.00"),  # kept
        json.dumps({"document": "x"}),  # malformed
    ]
    out = tmp_path / "new.jsonl"
    kept, report = synthesize(
        ScriptedWriter(replies), "supplier_invoice", HISTORY, small_chart(), len(replies), out=out
    )
    assert (report.requested, report.kept, report.rejected) == (8, 1, 7)
    assert report.rejection_rate == 7 / 8
    assert report.reasons == {
        "malformed": 2,
        "document_inconsistent": 1,
        "unbalanced": 1,
        "total_mismatch": 1,
        "unknown_account": 1,
        "wrong_kind": 1,
        "copied_example": 1,
    }
    assert set(report.reasons) <= set(CODES) | set(SYNTHESIS_CODES)
    assert len(report.samples) == 5 and report.samples[0]["violations"][0]["code"] == "malformed"
    written, errors = read_documents(out, small_chart())
    assert errors == [] and [d.total_gross for d in written] == [d.total_gross for d in kept]
    assert [str(d.total_gross) for d in written] == ["3750.00"]
    assert report.as_dict()["reasons"]["malformed"] == 2


def test_a_kind_without_history_is_refused() -> None:
    with pytest.raises(ValueError, match=r"no posted payroll document.*supplier_invoice"):
        synthesize(ScriptedWriter([]), "payroll", HISTORY, small_chart(), 1)


def test_writers_need_their_backend_configured() -> None:
    with pytest.raises(BackendNotConfigured, match="LEDGERPILOT_LLM_BASE_URL"):
        make_writer("llm", Settings(_env_file=None))  # type: ignore[call-arg]
    with pytest.raises(BackendNotConfigured, match="LEDGERPILOT_LOCAL_MODEL_DIR"):
        make_writer("local", Settings(_env_file=None))  # type: ignore[call-arg]
    with pytest.raises(BackendNotConfigured, match="llm or local"):
        make_writer("memory", Settings(_env_file=None))  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The suite's tiny model (shared with the other tests of the same worker)."""
    return build_test_model(tmp_path_factory.getbasetemp())


def test_the_tiny_model_through_the_local_backend(model_dir: Path, tmp_path: Path) -> None:
    writer = make_writer("local", Settings(_env_file=None, local_model_dir=model_dir))  # type: ignore[call-arg]
    assert isinstance(writer, LocalWriter)
    writer.max_new_tokens = 24  # random weights: a few tokens show the accounting
    out = tmp_path / "new.jsonl"
    kept, report = synthesize(
        writer, "supplier_invoice", HISTORY, small_chart(), 2, out=out, examples=1
    )
    assert report.kept + report.rejected == 2 == report.requested
    assert report.kept == len(kept)
    # Every rejected answer is counted under at least one known code.
    assert sum(report.reasons.values()) >= report.rejected
    assert set(report.reasons) <= set(CODES) | set(SYNTHESIS_CODES)
    written, errors = read_documents(out, small_chart())
    assert errors == [] and len(written) == report.kept


def test_the_prompt_carries_the_examples_as_data() -> None:
    messages = synthesis_messages("supplier_invoice", HISTORY[:2], small_chart())
    assert [m["role"] for m in messages] == ["system", "user"]
    shown = json.loads(messages[1]["content"].split("```json\n")[2].split("\n```")[0])
    assert [Document.from_json(x["document"]).id for x in shown] == ["H-1", "H-2"]
    assert all(x["posting"]["lines"] for x in shown)


def test_the_synth_entries_command(model_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ledgerpilot.cli import app
    from ledgerpilot.config import get_settings

    url = make_company(f"sqlite:///{tmp_path / 'ais.sqlite'}", [])
    out = tmp_path / "new.jsonl"
    args = ["synth-entries", "--backend", "local", "--kind", "supplier_invoice", "--count", "1"]
    args += ["--max-tokens", "16"]
    env = {"LEDGERPILOT_LOCAL_MODEL_DIR": str(model_dir)}
    get_settings.cache_clear()
    try:
        done = CliRunner().invoke(app, [*args, "--ais", url, "--out", str(out), "--json"], env=env)
        missing = CliRunner().invoke(app, [*args, "--ais", url, "--kind", "payroll"], env=env)
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["requested"] == 1 and report["kept"] + report["rejected"] == 1
    assert report["examples"] == ["H-1", "H-2"] and report["out"] == str(out)
    assert len(out.read_text().splitlines()) == report["kept"]
    assert missing.exit_code == 2 and "no posted payroll document" in missing.stderr
