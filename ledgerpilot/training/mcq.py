"""Multiple-choice financial QA in the FinEval layout, scored by the model's likelihoods.

A file holds one question a line: ``{"question", "A", "B", "C", "D", "answer": "A".."D"}``,
optionally ``"numeric": true|false`` (a question about a number; without it, a question
whose four options all read as numbers counts as numeric) and ``"kind"``. The model is
shown the question and its options (after ``shots`` solved examples drawn from the same
file, which are then not scored) and ends at ``Answer:``; the option it finds most likely
is the letter whose continuation (`` A``, `` B``, ...) has the highest log-likelihood.
Comparing likelihoods rather than decoding a reply is robust for small models, which
rarely answer with a bare letter; it is what FinEval-style harnesses call the
"likelihood" mode. Plain text, no chat template, so base and instruct models are scored
alike.

Accuracy is reported overall and for numeric and non-numeric questions, for the base
model and, when adapters are given, for the base with the adapters merged in: the
numeric module's effect measured as NumLLM measured it.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

LETTERS = ("A", "B", "C", "D")
HEADER = (
    "The following are multiple-choice questions about bookkeeping and accounting. "
    "Answer with the letter of the right option.\n\n"
)
"""What every prompt starts with."""
SHIPPED = Path(__file__).parent / "data" / "ledger_mcq.jsonl"
"""The small MCQ file written from the synthetic ledger (see :func:`ledger_questions`)."""


class MCQError(ValueError):
    """An MCQ file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Question:
    """One multiple-choice question."""

    number: int
    """Its line in the file (1-based)."""
    question: str
    options: tuple[str, str, str, str]
    answer: str
    """The right letter."""
    numeric: bool
    kind: str = ""


def _is_number(text: str) -> bool:
    try:
        Decimal(text.replace(",", "").split()[0] if text.strip() else "x")
    except (InvalidOperation, IndexError):
        return False
    return True


def parse_question(data: object, number: int) -> Question:
    """One line's JSON object as a :class:`Question`; raises ``ValueError`` with the reason."""
    if not isinstance(data, dict):
        raise ValueError("a question must be a JSON object")
    fields = ("question", *LETTERS, "answer")
    missing = [f for f in fields if f not in data]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    texts = {f: data[f] for f in fields}
    if not all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in texts.values()
    ):
        raise ValueError("question, A, B, C, D and answer must be strings")
    answer = str(data["answer"]).strip().upper()
    if answer not in LETTERS:
        raise ValueError(f"answer must be one of A, B, C, D, got {data['answer']!r}")
    options = tuple(str(data[letter]) for letter in LETTERS)
    numeric = data.get("numeric")
    if numeric is not None and not isinstance(numeric, bool):
        raise ValueError(f"numeric must be true or false, got {numeric!r}")
    return Question(
        number=number,
        question=str(data["question"]),
        options=(options[0], options[1], options[2], options[3]),
        answer=answer,
        numeric=numeric if numeric is not None else all(_is_number(o) for o in options),
        kind=str(data.get("kind", "")),
    )


def read_questions(path: str | Path) -> list[Question]:
    """The questions of a JSON Lines file; raises :class:`MCQError` naming the bad line."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MCQError(f"cannot read {source}: {exc}") from exc
    questions: list[Question] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            questions.append(parse_question(json.loads(line), number))
        except (json.JSONDecodeError, ValueError) as exc:
            raise MCQError(f"{source}:{number}: {exc}") from None
    if not questions:
        raise MCQError(f"{source} holds no questions")
    return questions


def render(question: Question, answer: bool = False) -> str:
    """A question with its options, ending at ``Answer:`` (with the letter for an example)."""
    lines = [f"Question: {question.question}"]
    lines += [
        f"{letter}. {option}" for letter, option in zip(LETTERS, question.options, strict=True)
    ]
    lines.append(f"Answer: {question.answer}" if answer else "Answer:")
    return "\n".join(lines)


def split_shots(
    questions: Sequence[Question], shots: int, seed: int = 0
) -> tuple[list[Question], list[Question]]:
    """``shots`` examples drawn from ``questions`` (in file order), and the rest to score."""
    if shots < 0:
        raise MCQError(f"shots must be 0 or more, got {shots}")
    if shots >= len(questions):
        raise MCQError(f"{shots} shot(s) leave none of the {len(questions)} questions to score")
    chosen = set(random.Random(seed).sample(range(len(questions)), shots))
    examples = [q for n, q in enumerate(questions) if n in chosen]
    return examples, [q for n, q in enumerate(questions) if n not in chosen]


def build_prompt(question: Question, examples: Sequence[Question] = ()) -> str:
    """The prompt for ``question`` after the solved ``examples``."""
    shown = [render(ex, answer=True) for ex in examples]
    return HEADER + "\n\n".join([*shown, render(question)])


def option_loglikelihoods(model: Any, tokenizer: Any, prompt: str) -> dict[str, float]:
    """The log-likelihood of each letter (`` A`` ...) as the continuation of ``prompt``.

    The prompt and each continuation are tokenized apart, so every letter is scored after
    the same prompt tokens; a continuation of several tokens sums their log-probabilities.
    The prompt starts with the beginning-of-sequence token where the tokenizer adds one
    (Gemma and Llama read text without it badly). The prompt is run once; continuations
    reuse its key-value cache.
    """
    import torch

    context = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is not None and tokenizer(prompt)["input_ids"][:1] == [bos] and context[:1] != [bos]:
        context = [bos, *context]
    continuations = [tokenizer(f" {x}", add_special_tokens=False)["input_ids"] for x in LETTERS]
    device = next(model.parameters()).device
    with torch.inference_mode():
        output = model(input_ids=torch.tensor([context], device=device), use_cache=True)
        cache = output.past_key_values
        # Log-probabilities of the next token after the prompt plus each prefix needed.
        after: dict[tuple[int, ...], Any] = {
            (): torch.log_softmax(output.logits[0, -1].float(), dim=-1).cpu()
        }
        for continuation in continuations:
            for cut in range(1, len(continuation)):
                prefix = tuple(continuation[:cut])
                if prefix in after:
                    continue
                extended = model(
                    input_ids=torch.tensor([list(prefix)], device=device),
                    past_key_values=copy.deepcopy(cache),
                    use_cache=True,
                )
                after[prefix] = torch.log_softmax(extended.logits[0, -1].float(), dim=-1).cpu()
    return {
        letter: sum(
            float(after[tuple(continuation[:k])][token]) for k, token in enumerate(continuation)
        )
        for letter, continuation in zip(LETTERS, continuations, strict=True)
    }


def choose(scores: dict[str, float]) -> str:
    """The letter with the highest log-likelihood (the first of equals)."""
    return max(LETTERS, key=lambda letter: (scores[letter], -LETTERS.index(letter)))


@dataclass(frozen=True)
class Accuracy:
    """Right answers out of questions."""

    questions: int
    correct: int

    @property
    def accuracy(self) -> float | None:
        """The share right, ``None`` for no questions."""
        return self.correct / self.questions if self.questions else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {**asdict(self), "accuracy": self.accuracy}


@dataclass(frozen=True)
class Run:
    """One model's answers to the scored questions."""

    label: str
    overall: Accuracy
    numeric: Accuracy
    non_numeric: Accuracy
    by_kind: dict[str, Accuracy]
    choices: list[dict[str, Any]]
    """Per question: line, chosen letter, right letter, the four log-likelihoods."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {
            "label": self.label,
            "overall": self.overall.as_dict(),
            "numeric": self.numeric.as_dict(),
            "non_numeric": self.non_numeric.as_dict(),
            "by_kind": {k: v.as_dict() for k, v in sorted(self.by_kind.items())},
            "choices": self.choices,
        }


def _accuracy(rows: Iterable[tuple[Question, bool]]) -> Accuracy:
    found = list(rows)
    return Accuracy(len(found), sum(1 for _, right in found if right))


def score(
    model: Any,
    tokenizer: Any,
    questions: Sequence[Question],
    examples: Sequence[Question] = (),
    label: str = "model",
    on_progress: Callable[[int, int], None] | None = None,
) -> Run:
    """Ask ``model`` every question after ``examples`` and count the right answers."""
    rows: list[tuple[Question, bool]] = []
    choices: list[dict[str, Any]] = []
    for n, question in enumerate(questions, start=1):
        scores = option_loglikelihoods(model, tokenizer, build_prompt(question, examples))
        chosen = choose(scores)
        rows.append((question, chosen == question.answer))
        choices.append(
            {
                "line": question.number,
                "chosen": chosen,
                "answer": question.answer,
                "loglikelihoods": {k: round(v, 4) for k, v in scores.items()},
            }
        )
        if on_progress is not None:
            on_progress(n, len(questions))
    kinds = sorted({q.kind for q, _ in rows if q.kind})
    return Run(
        label=label,
        overall=_accuracy(rows),
        numeric=_accuracy(r for r in rows if r[0].numeric),
        non_numeric=_accuracy(r for r in rows if not r[0].numeric),
        by_kind={k: _accuracy(r for r in rows if r[0].kind == k) for k in kinds},
        choices=choices,
    )


def load_model(model_dir: str | Path, adapters: Sequence[str | Path] = ()) -> tuple[Any, Any]:
    """A causal LM (float32, eval mode) with ``adapters`` merged in order, and its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer: Any = AutoTokenizer.from_pretrained(model_dir)
    model: Any = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    if adapters:
        from peft import PeftModel

        for adapter in adapters:
            model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    return model.eval(), tokenizer


def evaluate(
    model_dir: str | Path,
    data: str | Path,
    adapters: Sequence[str | Path] = (),
    shots: int = 0,
    seed: int = 0,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Score the base model, and with ``adapters`` the base plus them, on the file ``data``.

    Returns the report: the file, shots and their lines, each run's accuracies, and with
    adapters the change in accuracy (overall, numeric, non-numeric) that they bring.
    """
    questions = read_questions(data)
    examples, scored = split_shots(questions, shots, seed)
    setups: list[tuple[str, Sequence[str | Path]]] = [("base", ())]
    if adapters:
        setups.append(("base+adapters", adapters))
    runs: list[Run] = []
    for label, chosen in setups:
        model, tokenizer = load_model(model_dir, chosen)
        progress = None if on_progress is None else (lambda n, t, lb=label: on_progress(lb, n, t))
        runs.append(score(model, tokenizer, scored, examples, label, progress))
        del model
    report: dict[str, Any] = {
        "model": str(model_dir),
        "adapters": [str(a) for a in adapters],
        "data": str(data),
        "shots": shots,
        "example_lines": [q.number for q in examples],
        "questions": len(scored),
        "numeric_questions": sum(1 for q in scored if q.numeric),
        "scoring": "log-likelihood of each option letter after the prompt",
        "runs": [run.as_dict() for run in runs],
    }
    if len(runs) == 2:
        report["adapter_effect"] = {
            part: _delta(getattr(runs[1], part), getattr(runs[0], part))
            for part in ("overall", "numeric", "non_numeric")
        }
    return report


def _delta(after: Accuracy, before: Accuracy) -> float | None:
    if after.accuracy is None or before.accuracy is None:
        return None
    return round(after.accuracy - before.accuracy, 4)
