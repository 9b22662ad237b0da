"""``ledgerpilot eval human-sample``: a blind sheet of held-out documents and their drafts.

A small synthetic company in a real SQLite AIS; the memory and auto backends (auto falls
back to memory without a model) and the posted entry are the candidates. The sheet must
not tell which candidate came from where, and the key must tell it exactly. The ``eval``
group keeps the old ``ledgerpilot eval --backend ...`` benchmark working beside it.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ledgerpilot.agent.backends.memory import MemoryBackend
from ledgerpilot.agent.policy import RoutingPolicy
from ledgerpilot.agent.recall import HistoryIndex
from ledgerpilot.cli import app
from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.synth import generate
from ledgerpilot.training.evaluation import default_backend, draft_in_process
from ledgerpilot.training.grading import COLUMNS
from ledgerpilot.training.human_sample import (
    NO_ENTRY,
    allocate,
    build_sheet,
    draw_sample,
    render_entry,
)

HOLDOUT = dt.date(2025, 1, 1)
LEAKS = re.compile(r"\b(memory|auto|gold|llm|local|backend|model|proposed|needs_review)\b", re.I)
"""Words that would tell a grader where a candidate came from."""
ENTRY_LINE = re.compile(r"^\S+ \S[^\n]*: (debit|credit) \d+\.\d{2}(, credit \d+\.\d{2})?$")


@pytest.fixture(scope="module")
def ais_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Two years of a small company: 2024 is the history, 2025 is held out."""
    url = f"sqlite:///{tmp_path_factory.mktemp('human') / 'ais.sqlite'}"
    company = generate("generic", years=2, inbox=0, seed=5, per_year=120)
    with ReferenceAIS.create(url) as ais:
        ais.load(company.history(), chart=company.chart)
    yield url


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_allocate_is_proportional_and_covers_every_kind() -> None:
    # One each first; the 7 left shared as 49 : 29 : 19 -> 3.54, 2.09, 1.37 -> 3, 2, 1,
    # and the last one to the largest remainder (a).
    assert allocate({"a": 50, "b": 30, "c": 20}, 10) == {"a": 5, "b": 3, "c": 2}
    # Fewer documents than kinds: by proportion alone.
    assert allocate({"a": 5, "b": 1, "c": 1}, 2) == {"a": 2, "b": 0, "c": 0}
    # A small kind is never asked for more than it has.
    assert allocate({"a": 90, "b": 1}, 20) == {"a": 19, "b": 1}
    assert allocate({"a": 3, "b": 2}, 10) == {"a": 3, "b": 2}


def test_the_sheet_is_blind_and_the_key_unblinds_it(ais_url: str, tmp_path: Path) -> None:
    sheet, key_file = tmp_path / "sheet.csv", tmp_path / "sheet.key.json"
    done = CliRunner().invoke(
        app,
        [
            "eval", "human-sample", "--ais", ais_url, "--holdout-from", "2025-01-01",
            "--n", "16", "--backends", "memory,auto", "--with-gold", "--seed", "11",
            "--out", str(sheet), "--json",
        ],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["documents"] == 16 and summary["rows"] == 48
    assert summary["key"] == str(key_file) and summary["sources"] == ["memory", "auto", "gold"]
    raw = sheet.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: spreadsheet programs read accents
    text = raw.decode("utf-8-sig")
    key = json.loads(key_file.read_text(encoding="utf-8"))
    rows = read_rows(sheet)

    # Nothing on the sheet names a backend, a model, a routing status or the gold entry.
    assert LEAKS.search(text) is None, LEAKS.search(text)
    for row in key["rows"].values():
        assert row["model"] not in text
    assert list(rows[0]) == list(COLUMNS)
    assert all(r[c] == "" for r in rows for c in COLUMNS[5:])  # grade, reason, grader blank

    # Row ids in sheet order; a document's candidates together, lettered A, B, C.
    token = key["sheet"]
    assert [r["row"] for r in rows] == [f"{token}-{n:03d}" for n in range(1, 49)]
    documents = list(dict.fromkeys(r["document"] for r in rows))
    assert len(documents) == 16
    for doc_id in documents:
        mine = [r for r in rows if r["document"] == doc_id]
        assert [r["candidate"] for r in mine] == ["A", "B", "C"]
        assert len({r["summary of the document"] for r in mine}) == 1
    kinds = {key["rows"][r["row"]]["kind"] for r in rows}
    assert len(kinds) >= 6  # stratified: the small kinds are there too

    # Every entry in one format: no line descriptions, no trailing spaces, no explanation.
    for r in rows:
        entry = r["entry (account: debit or credit)"]
        assert entry == NO_ENTRY or all(ENTRY_LINE.match(ln) for ln in entry.split("\n")), entry

    # The candidates' order differs from document to document and follows no backend.
    letters: dict[str, set[str]] = {}
    for r in rows:
        letters.setdefault(key["rows"][r["row"]]["source"], set()).add(r["candidate"])
    assert all(len(found) >= 2 for found in letters.values()), letters
    orders = {
        tuple(key["rows"][r["row"]]["source"] for r in rows if r["document"] == doc_id)
        for doc_id in documents
    }
    assert len(orders) >= 3

    # The key un-blinds: the gold rows show what was posted, the memory rows what memory
    # drafts for the document, and identical entries read identically whoever drafted them.
    with ReferenceAIS(ais_url) as ais:
        chart = ais.chart()
        index = HistoryIndex.build(ais.history(until=HOLDOUT), chart)
        memory = MemoryBackend(index, chart)
        for r in rows:
            info = key["rows"][r["row"]]
            assert (info["document"], info["candidate"]) == (r["document"], r["candidate"])
            doc = ais.get_document(r["document"])
            assert doc is not None and doc.entry is not None and doc.date >= HOLDOUT
            assert info["kind"] == doc.kind
            shown = r["entry (account: debit or credit)"]
            if info["source"] == "gold":
                assert shown == render_entry(doc.entry.lines, chart, doc.currency)
            elif info["source"] == "memory":
                draft = draft_in_process(
                    memory, index, chart, dataclasses.replace(doc, entry=None), RoutingPolicy()
                )
                assert draft.proposal is not None and draft.proposal.scheme is not None
                assert shown == render_entry(draft.proposal.scheme.lines, chart, doc.currency)
                assert info["model"] == draft.proposal.model

    # Graded as a spreadsheet would save it (cells of several lines included) and imported:
    # a grader who calls "correct" exactly what matches the posted entry gives the gold
    # entry 1.0 and each backend its share of entries equal to the posted one.
    entry = COLUMNS[4]
    gold = {r["document"]: r[entry] for r in rows if key["rows"][r["row"]]["source"] == "gold"}
    for r in rows:
        r[COLUMNS[5]] = "correct" if r[entry] == gold[r["document"]] else "wrong"
    graded = tmp_path / "graded.csv"
    with graded.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    done = CliRunner().invoke(
        app, ["eval", "human-import", str(graded), "--key", str(key_file), "--json"]
    )
    assert done.exit_code == 0, done.output
    scores = {s["source"]: s for s in json.loads(done.stdout)["sources"]}
    for source in ("memory", "auto", "gold"):
        mine = [r for r in rows if key["rows"][r["row"]]["source"] == source]
        same = sum(r[entry] == gold[r["document"]] for r in mine) / len(mine)
        assert scores[source]["correct"]["share"] == round(same, 4)
    assert scores["gold"]["score"]["mean"] == 1.0
    rows[6][COLUMNS[5]] = "meh"
    with graded.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    refused = CliRunner().invoke(app, ["eval", "human-import", str(graded), "--key", str(key_file)])
    assert refused.exit_code == 2
    assert f"spreadsheet row 8 (row id '{rows[6]['row']}'): grade 'meh'" in refused.output


def test_the_seed_fixes_the_sample(ais_url: str) -> None:
    memory = {"memory": lambda index, chart: default_backend("memory", index, chart)}
    with ReferenceAIS(ais_url) as ais:
        first = build_sheet(ais, HOLDOUT, memory, 6, with_gold=True, seed=4)
        again = build_sheet(ais, HOLDOUT, memory, 6, with_gold=True, seed=4)
        held_out = list(ais.history(since=HOLDOUT))
    assert first.token == again.token and first.rows == again.rows
    ids = [r.document.id for r in first.rows[::2]]
    assert len(set(ids)) == 6
    assert draw_sample(held_out, 6, random.Random(5)) != draw_sample(held_out, 6, random.Random(6))
    assert first.key()["seed"] == 4 and len(first.rows) == 12


def test_bad_requests_are_refused(ais_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["eval", "human-sample", "--ais", ais_url, "--holdout-from", "2025-01-01"]
    out = ["--out", str(tmp_path / "s.csv")]
    for backends, message in (
        ("memory,gold", "--with-gold"),
        ("memory,smart_importer", "unknown backend 'smart_importer'"),
        ("memory,memory", "twice"),
    ):
        done = runner.invoke(app, [*base, "--backends", backends, *out])
        assert done.exit_code == 2 and message in done.output, done.output
    no_model = runner.invoke(
        app, [*base, "--backends", "memory,llm", *out], env={"LEDGERPILOT_LLM_BASE_URL": ""}
    )
    assert no_model.exit_code == 2 and "LEDGERPILOT_LLM_BASE_URL" in no_model.output
    late = runner.invoke(app, [*base[:-1], "2031-01-01", *out])
    assert late.exit_code == 2 and "no posted documents from 2031-01-01" in late.output
    assert not (tmp_path / "s.csv").exists()


def test_eval_keeps_its_benchmark_beside_the_subcommands(ais_url: str) -> None:
    runner = CliRunner()
    old = ["eval", "--ais", ais_url, "--holdout-from", "2025-01-01", "--backend", "memory"]
    done = runner.invoke(app, [*old, "--limit", "4", "--no-baseline", "--json"])
    assert done.exit_code == 0, done.output
    result: dict[str, Any] = json.loads(done.stdout)
    assert (result["backend"], result["documents"]) == ("memory", 4)
    missing = runner.invoke(app, ["eval", "--ais", ais_url])
    assert missing.exit_code == 2 and "--holdout-from" in missing.output
    # The benchmark's options before a subcommand would be ignored: refused, by name.
    mixed = runner.invoke(app, ["eval", "--backend", "llm", "human", "--store", "sqlite://"])
    assert mixed.exit_code == 2 and "--backend" in mixed.output and "human" in mixed.output
    helped = runner.invoke(app, ["eval", "--help"])
    assert helped.exit_code == 0
    for name in ("human-sample", "human-import", "--holdout-from", "--backend"):
        assert name in helped.output
