"""The numeric module's data: every answer recomputed here in Decimal, distractors checked."""

from __future__ import annotations

import json
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from ledgerpilot.connectors import open_ais
from ledgerpilot.ledger import Document
from ledgerpilot.training.numeric import LETTERS, numeric_data, write_numeric

from .test_dataset import make_ais, read_jsonl, run

CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def ais_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return make_ais(tmp_path_factory.mktemp("numeric_company"))


@pytest.fixture(scope="module")
def written(ais_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("numeric")
    with open_ais(ais_url) as ais:
        data = numeric_data(ais.history(), ais.chart(), seed=4)
    return out, write_numeric(data, out, seed=4)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def recompute(kind: str, given: dict[str, str]) -> Decimal:
    """The answer of a numeric item from the figures its question states."""
    d = {
        k: Decimal(v)
        for k, v in given.items()
        if k not in ("from", "to", "per", "masked_side", "shares")
    }
    if kind == "gross_from_net":
        return d["net"] + cents(d["net"] * d["rate"] / 100)
    if kind == "tax_chain":
        return d["net"] + cents(d["net"] * d["rate"] / 100)
    if kind == "tax_from_net":
        return cents(d["net"] * d["rate"] / 100)
    if kind == "net_from_gross":
        return d["gross"] - cents(d["gross"] * d["rate"] / (100 + d["rate"]))
    if kind == "entry_balance":
        other = "debit" if given["masked_side"] == "credit" else "credit"
        return sum(v for k, v in d.items() if k.startswith(other)) - sum(
            v for k, v in d.items() if k.startswith(given["masked_side"])
        )
    if kind == "split":
        shares = [Decimal(s) for s in given["shares"].split(",")]
        return d["net"] - sum(cents(d["net"] * s / 100) for s in shares[:-1])
    if kind == "currency":
        places = 0 if given["to"] in ("JPY", "KRW", "ISK") else 2
        return (d["amount"] * d["rate"]).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    if kind == "depreciation":
        months = d["months"]
        return cents(d["cost"] / months * (12 if given["per"] == "year" else 1))
    raise AssertionError(f"unknown kind {kind}")


def test_every_numeric_answer_recomputes_from_the_question(
    written: tuple[Path, dict[str, Any]],
) -> None:
    out, _ = written
    items = read_jsonl(out / "numeric_mcq.jsonl")
    kinds: Counter[str] = Counter()
    for item in items:
        if not item["numeric"]:
            continue
        kinds[item["kind"]] += 1
        assert item[item["answer"]] == item["value"]
        if item["kind"] == "depreciation" and item["inputs"]["per"] == "year":
            expected = cents(
                Decimal(item["inputs"]["cost"]) * 12 / Decimal(item["inputs"]["months"])
            )
        else:
            expected = recompute(item["kind"], item["inputs"])
        assert Decimal(item["value"]) == expected, item
        for name, figure in item["inputs"].items():
            if name not in ("masked_side", "shares", "per"):
                assert figure in item["question"], (name, item["question"])
    assert set(kinds) >= {
        "gross_from_net",
        "tax_from_net",
        "net_from_gross",
        "entry_balance",
        "tax_chain",
        "split",
        "currency",
    }
    for record in read_jsonl(out / "numeric_train.jsonl"):
        expected = recompute(record["kind"], record["inputs"])
        assert Decimal(record["value"]) == expected
        assert (
            record["messages"][2]["content"].endswith(record["value"].split()[0])
            or record["value"] in record["messages"][2]["content"]
        )


def test_options_are_distinct_and_answers_spread_over_the_letters(
    written: tuple[Path, dict[str, Any]],
) -> None:
    out, summary = written
    items = read_jsonl(out / "numeric_mcq.jsonl")
    for item in items:
        options = [item[letter] for letter in LETTERS]
        assert len(set(options)) == 4, item
        assert [o for o in options if o == item["value"]] == [item[item["answer"]]]
    letters = Counter(item["answer"] for item in items)
    assert max(letters.values()) - min(letters.values()) <= 1
    assert summary["numeric_mcq"]["answers"] == dict(sorted(letters.items()))
    numeric = [i for i in items if i["numeric"]]
    for item in numeric:  # wrong values are amounts too, not junk
        for letter in LETTERS:
            assert Decimal(item[letter]) > 0


def test_wrong_gross_values_are_the_mistakes_people_make(
    written: tuple[Path, dict[str, Any]],
) -> None:
    out, _ = written
    items = [i for i in read_jsonl(out / "numeric_mcq.jsonl") if i["kind"] == "gross_from_net"]
    assert items
    seen: Counter[str] = Counter()
    for item in items:
        net, rate = Decimal(item["inputs"]["net"]), Decimal(item["inputs"]["rate"])
        right = Decimal(item["value"])
        tax = cents(net * rate / 100)
        mistakes = {
            net: "VAT forgotten (net for gross)",
            net - tax: "VAT subtracted",
            right * 10: "decimal point shifted",
            cents(right / 10): "decimal point shifted",
            right + CENT: "a cent off",
            right - CENT: "a cent off",
        }
        for other in (Decimal(r) for r in ("25", "13", "5", "20", "19", "10", "0")):
            mistakes.setdefault(net + cents(net * other / 100), "the wrong rate")
        for letter in LETTERS:
            wrong = Decimal(item[letter])
            if wrong == right:
                continue
            if wrong in mistakes:
                seen[mistakes[wrong]] += 1
            else:  # two digits swapped
                assert sorted(item[letter]) == sorted(item["value"]), item
                seen["digits swapped"] += 1
    assert {"VAT forgotten (net for gross)", "the wrong rate"} <= set(seen)


def test_non_numeric_items_name_the_account_the_entry_posts_to(
    ais_url: str, written: tuple[Path, dict[str, Any]]
) -> None:
    out, _ = written
    items = [i for i in read_jsonl(out / "numeric_mcq.jsonl") if not i["numeric"]]
    assert {i["kind"] for i in items} == {"settlement_account", "expense_account"}
    with open_ais(ais_url) as ais:
        chart = ais.chart()
        for item in items[:40]:
            document: Document | None = ais.get_document(item["document"])
            assert document is not None and document.entry is not None
            code = item["inputs"]["account"]
            assert code in {ln.account for ln in document.entry.lines}
            assert item["value"] == f"{code} {chart[code].name}"
            assert len({item[letter].split()[0] for letter in LETTERS}) == 4


def test_train_comes_before_the_holdout_and_the_mcq_from_it(
    written: tuple[Path, dict[str, Any]],
) -> None:
    import datasets

    out, summary = written
    holdout = summary["holdout_from"]
    train = read_jsonl(out / "numeric_train.jsonl")
    mcq = read_jsonl(out / "numeric_mcq.jsonl")
    assert train and all(r["date"] < holdout for r in train)
    assert mcq and all(r["date"] >= holdout for r in mcq)
    assert [m["role"] for m in train[0]["messages"]] == ["system", "user", "assistant"]
    loaded = datasets.load_dataset("json", data_files=str(out / "numeric_train.jsonl"))
    assert loaded["train"].num_rows == len(train)


def test_the_same_seed_gives_the_same_items(ais_url: str, tmp_path: Path) -> None:
    with open_ais(ais_url) as ais:
        chart = ais.chart()
        documents = list(ais.history())[:120]
    holdout = documents[80].date
    a = numeric_data(documents, chart, holdout, seed=1)
    b = numeric_data(documents, chart, holdout, seed=1)
    c = numeric_data(documents, chart, holdout, seed=2)
    assert a.train and a.mcq
    assert a.train == b.train and a.mcq == b.mcq
    assert a.train != c.train
    capped = numeric_data(documents, chart, holdout, seed=1, max_per_kind=3)
    assert max(Counter(i.kind for i in capped.train).values()) <= 3


def test_the_dataset_numeric_command(ais_url: str, tmp_path: Path) -> None:
    result = run(
        "dataset",
        "numeric",
        "--ais",
        ais_url,
        "--out",
        str(tmp_path),
        "--holdout-from",
        "2025-06-01",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["holdout_from"] == "2025-06-01"
    assert summary["numeric_mcq"]["items"] == len(read_jsonl(tmp_path / "numeric_mcq.jsonl"))
    assert summary["numeric_mcq"]["non_numeric"] > 0
