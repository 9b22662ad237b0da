"""Dataset curation: chat examples from the posted history, split by date, with a data card."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledgerpilot.agent.prompts import SYSTEM_PROMPT, build_prompt, render_scheme
from ledgerpilot.connectors import ReferenceAIS, open_ais
from ledgerpilot.ledger import (
    ChartOfAccounts,
    Document,
    DocumentLine,
    EntryLine,
    JournalEntry,
    Partner,
    parse_scheme,
    validate,
)
from ledgerpilot.synth import generate
from ledgerpilot.training.dataset import build_dataset, curate
from ledgerpilot.training.scheme_task import basis_of, entry_structure, most_frequent
from ledgerpilot.training.tiny_model import build_test_model

ROOT = Path(__file__).resolve().parents[2]
HOLDOUT = dt.date(2025, 7, 1)
"""Mid-year: the 2025 schemes straddle it."""


def make_ais(path: Path) -> str:
    """A small synthetic company (hr chart, 2024-2025, about 120 documents a year) in SQLite."""
    url = f"sqlite:///{path / 'ais.sqlite'}"
    company = generate("hr", years=2, inbox=0, seed=5, per_year=120)
    with ReferenceAIS.create(url) as ais:
        ais.load(company.history(), chart=company.chart)
    return url


@pytest.fixture(scope="module")
def ais_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return make_ais(tmp_path_factory.mktemp("ds_company"))


@pytest.fixture(scope="module")
def history(ais_url: str) -> tuple[list[Document], ChartOfAccounts]:
    with open_ais(ais_url) as ais:
        return list(ais.history()), ais.chart()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The suite's tiny model (its tokenizer counts tokens here)."""
    return build_test_model(tmp_path_factory.getbasetemp())


class ListSource:
    """A history source over a list of documents (what a connector gives curation)."""

    def __init__(self, documents: list[Document], chart: ChartOfAccounts) -> None:
        self.documents = documents
        self._chart = chart

    def chart(self) -> ChartOfAccounts:
        return self._chart

    def history(
        self, since: dt.date | None = None, until: dt.date | None = None
    ) -> Iterator[Document]:
        for doc in self.documents:
            if (since is None or doc.date >= since) and (until is None or doc.date < until):
                yield doc


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_split_is_by_date_and_nothing_of_the_test_period_reaches_train(
    history: tuple[list[Document], ChartOfAccounts], tmp_path: Path
) -> None:
    documents, chart = history
    with_test = curate(ListSource(documents, chart), HOLDOUT)
    assert with_test.train and with_test.test
    assert all(e.date < HOLDOUT for e in with_test.train)
    assert all(e.date >= HOLDOUT for e in with_test.test)
    # The 2025 schemes are drawn partly from the test period: they are test as a whole.
    assert {e.year for e in with_test.train if e.task == "scheme"} == {2024}
    assert {e.year for e in with_test.test if e.task == "scheme"} == {2025}
    test_ids = {d.id for d in documents if d.date >= HOLDOUT}
    for example in with_test.train:
        text = json.dumps(example.messages)
        assert not any(doc_id in text for doc_id in test_ids), example.document
    # Train is exactly what an AIS cut off at the holdout date gives: nothing later leaks.
    cut = curate(ListSource([d for d in documents if d.date < HOLDOUT], chart), HOLDOUT)
    assert [e.as_json() for e in cut.train if e.task == "entry"] == [
        e.as_json() for e in with_test.train if e.task == "entry"
    ]
    assert [e.as_json() for e in cut.train if e.task == "scheme"] == [
        e.as_json() for e in with_test.train if e.task == "scheme"
    ]


def test_entry_examples_use_the_backends_prompt_and_their_answers_validate(
    history: tuple[list[Document], ChartOfAccounts],
) -> None:
    documents, chart = history
    by_id = {d.id: d for d in documents}
    data = curate(ListSource(documents, chart), HOLDOUT, tasks=["entry"], examples=1)
    entries = data.train + data.test
    assert len(entries) == len(documents)
    shown = 0
    for example in entries:
        system, user, answer = (m["content"] for m in example.messages)
        assert [m["role"] for m in example.messages] == ["system", "user", "assistant"]
        assert system == SYSTEM_PROMPT
        document = by_id[example.document]
        assert answer == render_scheme(document)
        scheme, found = parse_scheme(answer)
        assert scheme is not None and found == []
        assert validate(scheme, chart, document) == []
        shown += "EXAMPLES: none" not in user
    assert 0 < shown < len(entries)  # the first of a partner and kind has no example
    # Without examples the prompt is the backends' prompt with none.
    first = documents[10]
    bare = curate(ListSource([first], chart), HOLDOUT, tasks=["entry"], examples=0)
    (example,) = bare.train
    assert example.messages[1]["content"] == build_prompt(first, chart).user


def test_repeated_examples_are_kept_once_and_counted(
    history: tuple[list[Document], ChartOfAccounts],
) -> None:
    documents, chart = history
    some = documents[:40]
    twice = [d for d in some for _ in range(2)]
    once = curate(ListSource(some, chart), HOLDOUT, examples=0)
    data = curate(ListSource(twice, chart), HOLDOUT, examples=0)
    assert data.dropped.reasons == {"duplicate": len(some)}
    assert [e.key for e in data.train] == [e.key for e in once.train]
    assert len({e.key for e in data.train + data.test}) == len(data.train) + len(data.test)


def test_documents_whose_entry_does_not_validate_are_dropped_with_the_reason(
    history: tuple[list[Document], ChartOfAccounts],
) -> None:
    documents, chart = history
    some = list(documents[:30])
    bad = some[5]
    assert bad.entry is not None
    lines = (dataclasses.replace(bad.entry.lines[0], account="999999"), *bad.entry.lines[1:])
    some[5] = dataclasses.replace(bad, entry=dataclasses.replace(bad.entry, lines=lines))
    data = curate(ListSource(some, chart), HOLDOUT, tasks=["entry"])
    assert data.dropped.reasons == {"invalid_entry": 1}
    assert data.dropped.samples["invalid_entry"] == [bad.id]
    assert "unknown_account" in data.dropped.violations
    assert bad.id not in {e.document for e in data.train}


@pytest.fixture(scope="module")
def early(history: tuple[list[Document], ChartOfAccounts]) -> tuple[ListSource, dt.date]:
    """The first 150 documents, split at the date of the 100th: quick to tokenize."""
    documents, chart = history
    return ListSource(documents[:150], chart), documents[100].date


def test_build_writes_files_that_datasets_loads_and_a_card_in_tokens(
    early: tuple[ListSource, dt.date], model_dir: Path, tmp_path: Path
) -> None:
    import datasets
    from transformers import AutoTokenizer

    source, holdout = early
    card = build_dataset(source, tmp_path, holdout, tokenizer=model_dir)
    train, test = read_jsonl(tmp_path / "train.jsonl"), read_jsonl(tmp_path / "test.jsonl")
    assert set(train[0]) >= {"messages", "task", "document", "kind", "date"}
    loaded = datasets.load_dataset(
        "json",
        data_files={"train": str(tmp_path / "train.jsonl"), "test": str(tmp_path / "test.jsonl")},
    )
    assert loaded["train"].num_rows == len(train) and loaded["test"].num_rows == len(test)
    assert loaded["train"][0]["messages"][2]["role"] == "assistant"
    assert card == json.loads((tmp_path / "datacard.json").read_text())
    entries = [r for r in train + test if r["task"] == "entry"]
    assert card["counts"]["train"]["entry"] + card["counts"]["test"]["entry"] == len(entries)
    kinds = card["by_kind_year"]["entry"]
    assert sum(sum(per_year.values()) for per_year in kinds.values()) == len(entries)
    assert card["lengths"]["unit"] == "tokens"
    tokenizer: Any = AutoTokenizer.from_pretrained(model_dir)
    lengths = sorted(
        len(
            tokenizer.apply_chat_template(r["messages"], tokenize=True, return_dict=True)[
                "input_ids"
            ]
        )
        for r in train
        if r["task"] == "entry"
    )
    stats = card["lengths"]["train"]["entry"]["chat"]
    assert (stats["min"], stats["max"], stats["count"]) == (lengths[0], lengths[-1], len(lengths))
    assert stats["min"] <= stats["median"] <= stats["p95"] <= stats["max"]
    markdown = (tmp_path / "DATACARD.md").read_text()
    assert "## Lengths (tokens)" in markdown and "| supplier_invoice |" in markdown

    # --max-tokens at the median drops the longer half, and only those.
    limit = stats["median"]
    cut = build_dataset(source, tmp_path / "cut", holdout, tokenizer=model_dir, max_tokens=limit)
    before = sum(sum(c.values()) for c in card["counts"].values())
    after = sum(sum(c.values()) for c in cut["counts"].values())
    assert cut["dropped"]["reasons"]["too_long"] == before - after > 0
    for split_name in ("train", "test"):
        for parts in cut["lengths"][split_name].values():
            assert parts["chat"]["max"] is None or parts["chat"]["max"] <= limit


def _invoice(lines: list[tuple[str, str, str]], entry: list[tuple[str, str, str]]) -> Document:
    doc_lines = tuple(
        DocumentLine(
            desc,
            Decimal(net),
            Decimal(rate),
            (Decimal(net) * Decimal(rate) / 100).quantize(Decimal("0.01")),
        )
        for desc, net, rate in lines
    )
    net = sum((ln.net for ln in doc_lines), Decimal(0))
    tax = sum((ln.tax for ln in doc_lines), Decimal(0))
    return Document(
        id="SI-1",
        kind="supplier_invoice",
        number="1",
        date=dt.date(2024, 3, 1),
        partner=Partner("SUP-1", "Supplier"),
        currency="EUR",
        lines=doc_lines,
        total_net=net,
        total_tax=tax,
        total_gross=net + tax,
        entry=JournalEntry(
            dt.date(2024, 3, 1),
            tuple(EntryLine(a, Decimal(d), Decimal(c)) for a, d, c in entry),
        ),
    )


def test_a_scheme_names_the_basis_of_each_amount(
    history: tuple[list[Document], ChartOfAccounts],
) -> None:
    _, chart = history
    doc = _invoice(
        [("rent", "1000.00", "25"), ("power", "200.00", "13"), ("gas", "100.00", "13")],
        [
            ("414000", "1000.00", "0"),
            ("417000", "200.00", "0"),
            ("417000", "100.00", "0"),
            ("140000", "289.00", "0"),
            ("220000", "0", "1589.00"),
        ],
    )
    structure = entry_structure(doc, chart)
    assert [(ln.account, ln.side, ln.amount) for ln in structure] == [
        ("140000", "debit", "tax"),
        ("414000", "debit", "net at 25%"),
        ("417000", "debit", "net at 13%"),
        ("220000", "credit", "gross"),
    ]
    assert basis_of(Decimal("250.00"), doc, "tax") == "tax at 25%"
    assert basis_of(Decimal("300.00"), doc, None) == "net at 13%"
    assert basis_of(Decimal("300.00"), doc, None) != basis_of(Decimal("7.00"), doc, None)
    assert basis_of(Decimal("7.00"), doc, None) == "other"
    a, b = (("x",),), (("y",),)
    assert most_frequent([a, b, b, a]) == (a, 2)  # a tie goes to the latest


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledgerpilot.cli", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        cwd=ROOT,
        timeout=300,
        check=False,
    )


def test_the_dataset_build_command(ais_url: str, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    result = run(
        "dataset",
        "build",
        "--ais",
        ais_url,
        "--out",
        str(out),
        "--holdout-from",
        "2025-01-01",
        "--task",
        "scheme",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    card = json.loads(result.stdout)
    assert card["tasks"] == ["scheme"] and card["lengths"]["unit"] == "characters"
    assert card["counts"]["train"]["scheme"] == len(read_jsonl(out / "train.jsonl")) > 0
    assert (out / "DATACARD.md").exists()
    bad = run(
        "dataset", "build", "--ais", ais_url, "--out", str(out), "--holdout-from", "2025-13-01"
    )
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
