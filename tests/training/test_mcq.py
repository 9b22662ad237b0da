"""Multiple-choice QA: reading FinEval files, few-shot prompts, likelihood scoring, the shipped file."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import torch

from ledgerpilot.ledger import tax_on
from ledgerpilot.training.mcq import (
    LETTERS,
    SHIPPED,
    MCQError,
    build_prompt,
    choose,
    evaluate,
    load_model,
    option_loglikelihoods,
    read_questions,
    score,
    split_shots,
)
from ledgerpilot.training.tiny_model import build_test_model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The suite's tiny model (shared with the other tests of the same worker)."""
    return build_test_model(tmp_path_factory.getbasetemp())


def item(answer: str = "A", numeric: bool | None = None, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "question": "What is 25% VAT on 100.00?",
        "A": "25.00",
        "B": "20.00",
        "C": "125.00",
        "D": "2.50",
        "answer": answer,
        **extra,
    }
    if numeric is not None:
        row["numeric"] = numeric
    return row


def write(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "Expecting property name"),
        (json.dumps({"question": "q", "A": "1", "B": "2", "C": "3"}), "missing D, answer"),
        (json.dumps(item(answer="E")), "answer must be one of A, B, C, D"),
        (json.dumps(item(numeric="yes")), "numeric must be true or false"),
        ("[1, 2]", "must be a JSON object"),
    ],
)
def test_a_malformed_line_is_named_by_its_number(tmp_path: Path, bad: str, message: str) -> None:
    path = write(tmp_path / "q.jsonl", [item(), "", bad])
    with pytest.raises(MCQError, match=f"q.jsonl:3: .*{message}"):
        read_questions(path)


def test_numeric_questions_are_marked_or_recognised(tmp_path: Path) -> None:
    words = {"question": "Which side?", "A": "debit", "B": "credit", "C": "both", "D": "none"}
    rows = [item(), item(numeric=False), {**words, "answer": "B", "kind": "side"}]
    questions = read_questions(write(tmp_path / "q.jsonl", rows))
    assert [q.numeric for q in questions] == [True, False, False]
    assert [q.number for q in questions] == [1, 2, 3]
    assert questions[2].kind == "side" and questions[2].answer == "B"
    with pytest.raises(MCQError, match="holds no questions"):
        read_questions(write(tmp_path / "empty.jsonl", [""]))


def test_few_shot_examples_are_shown_solved_and_not_scored(tmp_path: Path) -> None:
    rows = [item(question=f"Question number {n}?") for n in range(6)]
    questions = read_questions(write(tmp_path / "q.jsonl", rows))
    examples, scored = split_shots(questions, 2, seed=3)
    assert len(examples) == 2 and len(scored) == 4
    assert not {q.number for q in examples} & {q.number for q in scored}
    prompt = build_prompt(scored[0], examples)
    for example in examples:
        assert f"Question: {example.question}\nA. 25.00" in prompt
    assert prompt.count("Answer: A\n\n") == 2  # the examples, solved
    assert prompt.endswith(
        f"Question: {scored[0].question}\nA. 25.00\nB. 20.00\nC. 125.00\nD. 2.50\nAnswer:"
    )
    assert split_shots(questions, 2, seed=3) == (examples, scored)  # repeatable
    with pytest.raises(MCQError, match="leave none"):
        split_shots(questions, 6)


def test_the_scorer_picks_the_option_the_model_finds_most_likely(model_dir: Path) -> None:
    model, tokenizer = load_model(model_dir)
    # A case we control: an output layer that, whatever the context, favours one token,
    # the last token of " C".
    favoured = tokenizer(" C", add_special_tokens=False)["input_ids"][-1]
    head = torch.nn.Linear(model.config.hidden_size, model.config.vocab_size, bias=True)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    with torch.no_grad():
        head.bias[favoured] = 30.0
    model.lm_head = head
    prompt = build_prompt(read_questions(SHIPPED)[0])
    scores = option_loglikelihoods(model, tokenizer, prompt)
    assert set(scores) == set(LETTERS)
    assert choose(scores) == "C"
    assert scores["C"] > max(scores[x] for x in "ABD") + 20

    rows = [
        item(answer="C", numeric=True),
        item(answer="C", numeric=True),
        item(answer="A", numeric=False, kind="account"),
    ]
    questions = read_questions_from(rows)
    run = score(model, tokenizer, questions, label="controlled")
    assert (run.overall.correct, run.overall.questions) == (2, 3)
    assert run.numeric.accuracy == 1.0 and run.non_numeric.accuracy == 0.0
    assert run.by_kind["account"].accuracy == 0.0
    assert [c["chosen"] for c in run.choices] == ["C", "C", "C"]


def read_questions_from(rows: list[dict[str, Any]]) -> list[Any]:
    from ledgerpilot.training.mcq import parse_question

    return [parse_question(row, n) for n, row in enumerate(rows, start=1)]


def test_choose_breaks_ties_by_letter_order() -> None:
    assert choose({"A": -1.0, "B": -0.5, "C": -0.5, "D": -3.0}) == "B"


def test_evaluate_with_and_without_an_adapter(model_dir: Path, tmp_path: Path) -> None:
    from tests.training.test_merge import make_adapter

    numeric = make_adapter(model_dir, tmp_path / "numeric", 4, 5)
    rows = [item(question=f"Question {n}?", answer="ABCD"[n % 4], numeric=n < 3) for n in range(5)]
    data = write(tmp_path / "q.jsonl", rows)
    report = evaluate(model_dir, data, [numeric], shots=1)
    assert report["questions"] == 4 and len(report["example_lines"]) == 1
    base, adapted = report["runs"]
    assert (base["label"], adapted["label"]) == ("base", "base+adapters")
    for run in (base, adapted):
        assert run["overall"]["questions"] == 4
        assert run["numeric"]["questions"] + run["non_numeric"]["questions"] == 4
        assert [c["line"] for c in run["choices"]] == [
            n for n in range(1, 6) if n not in report["example_lines"]
        ]
    # The adapter changes the model, so its likelihoods differ from the base's.
    assert base["choices"][0]["loglikelihoods"] != adapted["choices"][0]["loglikelihoods"]
    assert set(report["adapter_effect"]) == {"overall", "numeric", "non_numeric"}


def test_the_eval_mcq_command(model_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ledgerpilot.cli import app

    data = write(tmp_path / "q.jsonl", [item(answer=x) for x in "ABC"])
    done = CliRunner().invoke(
        app, ["eval-mcq", "--model", str(model_dir), "--data", str(data), "--json"]
    )
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["runs"][0]["overall"]["questions"] == 3 and "adapter_effect" not in report
    bad = write(tmp_path / "bad.jsonl", [item(), {"question": "q"}])
    refused = CliRunner().invoke(app, ["eval-mcq", "--model", str(model_dir), "--data", str(bad)])
    assert refused.exit_code == 2 and "bad.jsonl:2: missing A" in refused.stderr


def test_the_shipped_file_has_numeric_and_account_questions_with_right_answers() -> None:
    questions = read_questions(SHIPPED)
    rows = [json.loads(line) for line in SHIPPED.read_text().splitlines()]
    assert 35 <= len(questions) <= 45
    assert sum(q.numeric for q in questions) >= 20 and sum(not q.numeric for q in questions) >= 10
    for row, question in zip(rows, questions, strict=True):
        if question.numeric:
            # The answer is right in Decimal, and no distractor is.
            assert [is_right(row, option) for option in question.options] == [
                letter == question.answer for letter in LETTERS
            ], row


def is_right(row: dict[str, Any], option: str) -> bool:
    """Whether ``option`` answers the shipped numeric question ``row``, in Decimal."""
    figures = {k: Decimal(v) for k, v in row["figures"].items()}
    rate, value = figures["tax_rate"], Decimal(option)
    if row["kind"] == "vat":
        return value == tax_on(figures["net"], rate)
    if row["kind"] == "gross":
        return value == figures["net"] + tax_on(figures["net"], rate)
    assert row["kind"] == "net"
    return value + tax_on(value, rate) == figures["gross"]


def test_the_shipped_account_answers_are_what_the_company_posted() -> None:
    from ledgerpilot.synth import generate
    from ledgerpilot.training.mcq_ledger import (
        COMPANY_CHART,
        COMPANY_PER_YEAR,
        COMPANY_SEED,
        ledger_questions,
    )

    company = generate(
        COMPANY_CHART, years=1, inbox=0, seed=COMPANY_SEED, per_year=COMPANY_PER_YEAR
    )
    history = {d.id: d for d in company.history()}
    rows = [json.loads(line) for line in SHIPPED.read_text().splitlines()]
    for row in rows:
        if row["numeric"]:
            continue
        entry = history[row["document"]].entry
        assert entry is not None
        side = "debit" if row["kind"] == "debit_account" else "credit"
        posted = {
            ln.account for ln in entry.lines if (ln.debit if side == "debit" else ln.credit) > 0
        }
        codes = {letter: row[letter].split()[0] for letter in LETTERS}
        assert codes[row["answer"]] in posted
        assert not {c for x, c in codes.items() if x != row["answer"]} & {
            ln.account for ln in entry.lines
        }
    # The file is what the generator writes, so it can be written again.
    assert ledger_questions(list(history.values()), company.chart) == rows
