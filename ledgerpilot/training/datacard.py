"""The data card of a curated dataset: counts, lengths, what was dropped; JSON and Markdown.

Lengths are counted with the tokenizer the model will be trained with when one is given
(a transformers tokenizer directory; the whole chat through its chat template when it has
one, so the count is what the trainer sees), otherwise in characters, with a note.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .dataset import Dataset, Example, Progress

CHARS_PER_TOKEN = 3
"""Without a tokenizer, ``max_tokens`` is compared with characters / this (a cautious estimate:
Qwen-style tokenizers write every digit as a token, and posting data is full of digits)."""
BATCH = 256
"""Examples tokenized at a time."""

Lengths = dict[int, tuple[int, int]]
"""Per example (by ``id``): (length of the whole chat, length of the answer)."""


class LengthMeter:
    """Counts the length of examples in tokens of a tokenizer, or in characters."""

    def __init__(self, tokenizer: Any = None, name: str = "") -> None:
        self.tokenizer = tokenizer
        self.name = name
        """The tokenizer's directory, ``""`` when counting characters."""

    @classmethod
    def load(cls, path: str | Path | None) -> LengthMeter:
        """The meter of the tokenizer in directory ``path`` (characters when ``None``).

        Raises ``ValueError`` when ``path`` holds no tokenizer that transformers can load.
        """
        if path is None:
            return cls()
        if not Path(path).is_dir():
            raise ValueError(f"tokenizer directory {path} does not exist")
        from transformers import AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot load a tokenizer from {path}: {exc}") from None
        return cls(tokenizer, str(path))

    @property
    def unit(self) -> str:
        """``"tokens"`` or ``"characters"``."""
        return "tokens" if self.tokenizer is not None else "characters"

    def over(self, length: int, max_tokens: int) -> bool:
        """Whether an example of ``length`` (in :attr:`unit`) exceeds ``max_tokens``."""
        if self.tokenizer is None:
            return math.ceil(length / CHARS_PER_TOKEN) > max_tokens
        return length > max_tokens

    def measure(self, examples: Sequence[Example], on_progress: Progress | None = None) -> Lengths:
        """The (chat, answer) length of each example, keyed by ``id(example)``."""
        out: Lengths = {}
        for start in range(0, len(examples), BATCH):
            batch = examples[start : start + BATCH]
            for example, pair in zip(batch, self._measure(batch), strict=True):
                out[id(example)] = pair
            if on_progress is not None:
                on_progress("measuring lengths", min(start + BATCH, len(examples)), len(examples))
        return out

    def _measure(self, batch: Sequence[Example]) -> list[tuple[int, int]]:
        if self.tokenizer is None:
            return [(sum(len(m["content"]) for m in e.messages), len(e.answer)) for e in batch]
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            chats = [tok.apply_chat_template(list(e.messages), tokenize=False) for e in batch]
        else:
            chats = ["\n".join(m["content"] for m in e.messages) for e in batch]
        whole = tok(chats, add_special_tokens=False)["input_ids"]
        answers = tok([e.answer for e in batch], add_special_tokens=False)["input_ids"]
        return [(len(w), len(a)) for w, a in zip(whole, answers, strict=True)]


def stats(values: Sequence[int]) -> dict[str, int | None]:
    """``min``, ``median``, ``p95`` (nearest rank) and ``max`` of ``values`` (``None`` if empty)."""
    if not values:
        return {"count": 0, "min": None, "median": None, "p95": None, "max": None}
    ordered = sorted(values)
    n = len(ordered)

    def rank(p: float) -> int:
        return ordered[max(0, math.ceil(p * n) - 1)]

    return {
        "count": n,
        "min": ordered[0],
        "median": rank(0.5),
        "p95": rank(0.95),
        "max": ordered[-1],
    }


def data_card(
    dataset: Dataset,
    lengths: Lengths,
    meter: LengthMeter,
    max_tokens: int | None = None,
    seconds: float = 0.0,
    source: str = "",
) -> dict[str, Any]:
    """The data card as a JSON object."""
    splits = {"train": dataset.train, "test": dataset.test}
    counts: dict[str, dict[str, int]] = {}
    by_kind_year: dict[str, dict[str, dict[str, int]]] = {}
    length_stats: dict[str, dict[str, Any]] = {}
    for name, examples in splits.items():
        counts[name] = {task: 0 for task in dataset.tasks}
        for example in examples:
            counts[name][example.task] += 1
            per_year = by_kind_year.setdefault(example.task, {}).setdefault(example.kind, {})
            per_year[str(example.year)] = per_year.get(str(example.year), 0) + 1
        for task in dataset.tasks:
            chosen = [lengths[id(e)] for e in examples if e.task == task and id(e) in lengths]
            length_stats.setdefault(name, {})[task] = {
                "chat": stats([c for c, _ in chosen]),
                "answer": stats([a for _, a in chosen]),
            }
    ordered = {
        task: {k: dict(sorted(years.items())) for k, years in sorted(kinds.items())}
        for task, kinds in by_kind_year.items()
    }
    note = (
        f"counted in tokens of the tokenizer in {meter.name} (the chat through its chat template)"
        if meter.tokenizer is not None
        else "counted in characters (no --tokenizer given); "
        f"--max-tokens is compared with characters / {CHARS_PER_TOKEN}"
    )
    return {
        "source": source,
        "holdout_from": dataset.holdout_from.isoformat(),
        "split": "train: dated before holdout_from; test: from it on. Entry examples carry their "
        "document's date and show only earlier documents; scheme examples are dated 31 December "
        "of their year, so a year that straddles holdout_from is test as a whole.",
        "tasks": list(dataset.tasks),
        "entry_prompt_examples": dataset.examples,
        "history": {
            "documents": dataset.documents,
            "first_date": dataset.first_date.isoformat() if dataset.first_date else None,
            "last_date": dataset.last_date.isoformat() if dataset.last_date else None,
        },
        "counts": counts,
        "by_kind_year": ordered,
        "lengths": {"unit": meter.unit, "note": note, "max_tokens": max_tokens, **length_stats},
        "dropped": dataset.dropped.as_json(),
        "seconds": round(seconds, 1),
    }


def write_card(card: dict[str, Any], out_dir: Path) -> None:
    """Write ``datacard.json`` and ``DATACARD.md`` into ``out_dir``."""
    (out_dir / "datacard.json").write_text(
        json.dumps(card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (out_dir / "DATACARD.md").write_text(card_markdown(card), encoding="utf-8")


def card_markdown(card: dict[str, Any]) -> str:
    """The data card as Markdown."""
    history = card["history"]
    lines = [
        "# Data card",
        "",
        f"Source: {card['source'] or 'an AIS'}; {history['documents']} posted documents "
        f"from {history['first_date']} to {history['last_date']}.",
        f"Tasks: {', '.join(card['tasks'])}; entry prompts show "
        f"{card['entry_prompt_examples']} earlier document(s) of the same partner and kind.",
        f"Split at {card['holdout_from']}. {card['split']}",
        "",
        "## Examples",
        "",
        "| split | " + " | ".join(card["tasks"]) + " |",
        "|---|" + "---:|" * len(card["tasks"]),
    ]
    for split_name, per_task in card["counts"].items():
        cells = " | ".join(str(per_task.get(t, 0)) for t in card["tasks"])
        lines.append(f"| {split_name} | {cells} |")
    for task, kinds in card["by_kind_year"].items():
        years = sorted({y for per_year in kinds.values() for y in per_year})
        lines += ["", f"### {task}: examples per kind and year", ""]
        lines.append("| kind | " + " | ".join(years) + " | total |")
        lines.append("|---|" + "---:|" * (len(years) + 1))
        for kind, per_year in kinds.items():
            cells = " | ".join(str(per_year.get(y, 0)) for y in years)
            lines.append(f"| {kind} | {cells} | {sum(per_year.values())} |")
    lengths = card["lengths"]
    lines += [
        "",
        f"## Lengths ({lengths['unit']})",
        "",
        lengths["note"]
        + (f"; max_tokens {lengths['max_tokens']}." if lengths["max_tokens"] else "."),
        "",
        "| split | task | part | count | min | median | p95 | max |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for split_name in ("train", "test"):
        for task, parts in lengths.get(split_name, {}).items():
            for part, s in parts.items():
                values = " | ".join(
                    "" if s[k] is None else str(s[k])
                    for k in ("count", "min", "median", "p95", "max")
                )
                lines.append(f"| {split_name} | {task} | {part} | {values} |")
    dropped = card["dropped"]
    lines += ["", "## Dropped", ""]
    if not dropped["reasons"]:
        lines.append("Nothing was dropped.")
    for reason, count in dropped["reasons"].items():
        sample = ", ".join(dropped["samples"].get(reason, []))
        lines.append(f"- {reason}: {count} (e.g. {sample})")
    if dropped["invalid_entry_violations"]:
        codes = ", ".join(f"{c} {n}" for c, n in dropped["invalid_entry_violations"].items())
        lines.append(f"- violations of the invalid entries: {codes}")
    lines += ["", f"Built in {card['seconds']} s.", ""]
    return "\n".join(lines)
